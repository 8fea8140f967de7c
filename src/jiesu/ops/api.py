from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from prometheus_client import CONTENT_TYPE_LATEST

from jiesu.ops.metrics import exposition


@get("/metrics", tags=["ops"], summary="Prometheus metrics", include_in_schema=False)
async def metrics_endpoint(request: Request[Any, Any, Any]) -> Response[bytes]:
    state = request.app.state
    body = await exposition(state.http_metrics, state.workflow.spec.states, state.cases.clock())
    return Response(body, media_type=CONTENT_TYPE_LATEST)
