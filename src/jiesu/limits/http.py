"""The limits as Litestar sees them: the shared rate limit on anonymous intake, and the input check that
runs before every handler. The rules themselves are in jiesu.limits.rate and jiesu.limits.input."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException, TooManyRequestsException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.rate_limit import (
    DURATION_VALUES,
    CacheObject,
    RateLimitConfig,
    RateLimitMiddleware,
)
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE
from litestar.types import Receive, Scope, Send

from jiesu.clock import Clock, system_clock
from jiesu.errors import field_error
from jiesu.limits.input import BODY_METHODS, input_problem, is_json_media_type, scalars_with_paths
from jiesu.limits.rate import WINDOW_UNIT, count_request


@dataclass
class SharedRateLimitConfig(RateLimitConfig):
    clock: Clock = field(default=system_clock)


class SharedRateLimitMiddleware(RateLimitMiddleware):
    config: SharedRateLimitConfig

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request: Request[Any, Any, Any] = scope["litestar_app"].request_class(scope)
        if await self.should_check_request(request=request):
            window = DURATION_VALUES[self.unit]
            now = self.config.clock().timestamp()
            count, reset = await count_request(self.cache_key_from_request(request), window, now)
            seen = CacheObject(history=[reset] * min(count, self.max_requests + 1), reset=reset)
            if count > self.max_requests:
                headers = self.create_response_headers(cache_object=seen)
                headers["RateLimit-Reset"] = headers["Retry-After"] = str(max(1, reset - int(now)))
                raise TooManyRequestsException(
                    detail=f"too many anonymous filings from your address; at most {self.max_requests} "
                    f"a {self.unit}",
                    headers=headers,
                )
            send = self.create_send_wrapper(send=send, cache_object=seen)
        await self.app(scope, receive, send)


async def _is_anonymous_intake(request: Request[Any, Any, Any]) -> bool:
    """Async on purpose: Litestar runs a sync throttle check in a worker thread, on every request."""
    return (
        request.method == "POST"
        and request.url.path.rstrip("/") == "/api/cases"
        and not request.headers.get("authorization")
    )


def anonymous_intake_limit(per_minute: int, clock: Clock = system_clock) -> list[DefineMiddleware]:
    """The middleware list for the app: empty when the limit is switched off (0)."""
    if per_minute <= 0:
        return []
    config = SharedRateLimitConfig(
        clock=clock,
        rate_limit=(WINDOW_UNIT, per_minute),
        check_throttle_handler=_is_anonymous_intake,
        middleware_class=SharedRateLimitMiddleware,
    )
    return [config.middleware]


# ---- input ---------------------------------------------------------------------------------------


class UnsupportedMediaType(HTTPException):
    status_code = HTTP_415_UNSUPPORTED_MEDIA_TYPE


async def check_request_input(request: Request[Any, Any, Any]) -> None:
    """A ``before_request`` hook: JSON bodies only, well-formed, and only storable text anywhere."""
    for name, value in request.query_params.multi_items():
        for text in (name, value):
            problem = input_problem(text)
            if problem:
                raise field_error(name if text is value else "query", problem)
    for name, value in request.path_params.items():
        problem = (
            input_problem(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
        )
        if problem:
            raise field_error(name, problem)
    if request.method not in BODY_METHODS or not request.url.path.startswith("/api/"):
        return  # the web pages post forms (read by their own handlers) and guard their own input
    body = await request.body()  # over MAX_BODY_BYTES: 413; Litestar keeps it for the handler
    if not body:
        return
    content_type = request.headers.get("content-type", "")
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType(f"Content-Type: send application/json, not {content_type[:60]!r}")
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise field_error("body", f"not valid JSON ({str(exc)[:120]})") from exc
    for path, text in scalars_with_paths(decoded, ""):
        problem = input_problem(text)
        if problem:
            raise field_error(path or "body", problem)
