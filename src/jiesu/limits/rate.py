"""Rate limit on anonymous intake, counted in the database so every app process shares one count.

Litestar's ``RateLimitMiddleware`` keeps its count in a store read and written under a per-process lock:
with the default memory store each of N workers allows the full rate (N times the limit in all), and even
with a shared store two workers can read the same count and both let a request through. Here the count is
one atomic UPSERT ... RETURNING per request (fixed one-minute windows), so with any number of workers on
one database the limit holds exactly. Callers are told apart by their address: behind a reverse proxy,
run uvicorn with ``--proxy-headers`` (and trusted ``--forwarded-allow-ips``) so that is the client's.
The middleware that asks this count is jiesu.limits.http.
"""

from __future__ import annotations

from typing import Final

from jiesu.limits.tables import RateWindow

WINDOW_UNIT: Final = "minute"
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
