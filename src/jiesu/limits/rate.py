"""Rate limit on anonymous intake, counted in the database so every app process shares one count.

Litestar's ``RateLimitMiddleware`` keeps its count in a store read and written under a per-process lock:
with the default memory store each of N workers allows the full rate (N times the limit in all), and even
with a shared store two workers can read the same count and both let a request through. Here the count is
one atomic UPSERT ... RETURNING per request (fixed one-minute windows), so with any number of workers on
one database the limit holds exactly. Callers are told apart by their address: behind a reverse proxy,
run uvicorn with ``--proxy-headers`` (and trusted ``--forwarded-allow-ips``) so that is the client's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from litestar import Request
from litestar.exceptions import TooManyRequestsException
from litestar.middleware.base import DefineMiddleware
from litestar.middleware.rate_limit import (
    DURATION_VALUES,
    CacheObject,
    RateLimitConfig,
    RateLimitMiddleware,
)
from litestar.types import Receive, Scope, Send

from jiesu.clock import Clock, system_clock
from jiesu.limits.tables import RateWindow

WINDOW_UNIT = "minute"
UPSERT = (
    "INSERT INTO jiesu_rate_window (key, window_start, count) VALUES ({}, {}, 1) "
    "ON CONFLICT (key) DO UPDATE SET count = jiesu_rate_window.count + 1 RETURNING count"
)


async def count_request(identifier: str, window_seconds: int, now: float) -> tuple[int, int]:
    """Count one request of ``identifier``; returns (requests in this window, when the window ends)."""
    start = int(now) - int(now) % window_seconds
    rows = await RateWindow.raw(UPSERT, f"{identifier}:{start}", start)
    count = int(rows[0]["count"])
    if count == 1:  # the first request of a new window: drop windows long gone
        await RateWindow.delete().where(RateWindow.window_start < start - window_seconds)
    return count, start + window_seconds


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
