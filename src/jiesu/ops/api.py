"""``GET /metrics``: open unless JIESU_METRICS_TOKEN is set, then only with that bearer token."""

from __future__ import annotations

import hmac
from typing import Any

from litestar import Request, Response, get
from litestar.exceptions import NotAuthorizedException
from prometheus_client import CONTENT_TYPE_LATEST

from jiesu.ops.metrics import exposition


def _check_metrics_token(request: Request[Any, Any, Any]) -> None:
    expected: str | None = request.app.state.settings.metrics_token
    if not expected:
        return
    scheme, _, sent = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(sent.strip().encode(), expected.encode()):
        raise NotAuthorizedException(
            "Authorization: send 'Bearer <JIESU_METRICS_TOKEN>'", headers={"WWW-Authenticate": "Bearer"}
        )


@get("/metrics", tags=["ops"], summary="Prometheus metrics", include_in_schema=False)
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    _check_metrics_token(request)
    state = request.app.state
    body = await exposition(state.http_metrics, state.workflow.spec.states, state.cases.clock())
    return Response(body, media_type=CONTENT_TYPE_LATEST)
