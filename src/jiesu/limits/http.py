"""The limits as Litestar sees them: the shared rate limit on anonymous intake (the API's middleware and the
pages' share of the same count), the caller's address, and the checks that run before every handler
(input, free disk space). The rules themselves are in jiesu.limits.rate, jiesu.limits.input and
jiesu.limits.disk."""

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
from jiesu.errors import TooManyRequests, field_error
from jiesu.limits.disk import check_free_space
from jiesu.limits.input import BODY_METHODS, input_problem, is_json_media_type, scalars_with_paths
from jiesu.limits.rate import WINDOW_UNIT, count_request

INTAKE_BUCKET = "intake"
# Writes that stay possible with little disk space: logging in and out (a login writes a few bytes at most).
WRITES_WITHOUT_DISK_CHECK = frozenset({"/api/auth/token", "/web/login", "/web/logout"})


def client_address(connection: Any) -> str:
    """The caller's address as the server sees it (behind a proxy: run uvicorn with --proxy-headers)."""
    client = getattr(connection, "client", None)
    return client.host if client else "unknown"


def intake_key(address: str) -> str:
    """The bucket of anonymous writes from one address: the API's filings and the pages' share it."""
    return f"{INTAKE_BUCKET}:{address}"


async def count_anonymous_write(request: Request[Any, Any, Any]) -> None:
    """Count one anonymous filing or addition from a page in the same bucket as POST /api/cases; raise
    TooManyRequests (429 with Retry-After) when the address is over JIESU_ANONYMOUS_INTAKE_PER_MINUTE."""
    per_minute: int = request.app.state.settings.anonymous_intake_per_minute
    if per_minute <= 0:
        return
    clock: Clock = request.app.state.clock
    now = clock().timestamp()
    count, reset = await count_request(intake_key(client_address(request)), DURATION_VALUES[WINDOW_UNIT], now)
    if count > per_minute:
        raise TooManyRequests(
            f"too many anonymous filings from your address; at most {per_minute} a {WINDOW_UNIT}",
            retry_after=max(1, reset - int(now)),
        )


@dataclass
class SharedRateLimitConfig(RateLimitConfig):
    clock: Clock = field(default=system_clock)


class SharedRateLimitMiddleware(RateLimitMiddleware):
    config: SharedRateLimitConfig

    def cache_key_from_request(self, request: Request[Any, Any, Any]) -> str:
        return intake_key(client_address(request))

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
    """A ``before_request`` hook: JSON bodies only, well-formed, and only storable text anywhere; no write
    when the disk under var/ is nearly full (507)."""
    if request.method in BODY_METHODS and request.url.path.rstrip("/") not in WRITES_WITHOUT_DISK_CHECK:
        settings = request.app.state.settings
        check_free_space(settings.var_dir, settings.min_free_disk_mb)
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
