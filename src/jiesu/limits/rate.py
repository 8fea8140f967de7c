"""Rate limit on anonymous intake, counted in the database so every app process shares one count.

Litestar's ``RateLimitMiddleware`` keeps its count in a store read and written under a per-process lock:
with the default memory store each of N workers allows the full rate (N times the limit in all), and even
with a shared store two workers can read the same count and both let a request through. Here the count is
one atomic UPSERT ... RETURNING per request (fixed one-minute windows), so with any number of workers on
one database the limit holds exactly. Callers are told apart by their address: behind a reverse proxy,
run uvicorn with ``--proxy-headers`` (and trusted ``--forwarded-allow-ips``) so that is the client's.
The middleware that asks this count is jiesu.limits.http.

Attempts that may fail (a login, a tracking code, a registration) are counted the same way, in
``jiesu_attempt_window``: one UPSERT ... RETURNING per attempt, made before the password is hashed, so N
parallel guesses are N counts and only those within the limit reach the hash. The window starts at the
first attempt; a success gives its attempt back (``release_attempt``) or forgets them (``clear_attempts``).
"""

from __future__ import annotations

from typing import Final

from jiesu.limits.tables import AttemptWindow, RateWindow

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


ATTEMPT_UPSERT = (
    "INSERT INTO jiesu_attempt_window (key, window_start, count) VALUES ({}, {}, 1) "
    "ON CONFLICT (key) DO UPDATE SET "
    "count = CASE WHEN jiesu_attempt_window.window_start <= {} THEN 1 "
    "ELSE jiesu_attempt_window.count + 1 END, "
    "window_start = CASE WHEN jiesu_attempt_window.window_start <= {} THEN {} "
    "ELSE jiesu_attempt_window.window_start END "
    "RETURNING count, window_start"
)
ATTEMPTS_KEPT_SECONDS = 86_400  # windows older than this are dropped when a new one starts


async def count_attempt(key: str, window_seconds: int, now: float) -> tuple[int, int]:
    """Count one attempt of ``key`` (atomically, before the work it guards); returns (attempts in this
    window, when the window ends). The window starts at the first attempt after the last one ended."""
    at = int(now)
    expired = at - window_seconds
    rows = await AttemptWindow.raw(ATTEMPT_UPSERT, key, at, expired, expired, at)
    count, start = int(rows[0]["count"]), int(rows[0]["window_start"])
    if count == 1:
        await AttemptWindow.delete().where(AttemptWindow.window_start < at - ATTEMPTS_KEPT_SECONDS)
    return count, start + window_seconds


async def release_attempt(key: str) -> None:
    """A success gives its attempt back: only failures (and attempts still running) count."""
    await AttemptWindow.raw(
        "UPDATE jiesu_attempt_window SET count = count - 1 WHERE key = {} AND count > 0", key
    )


async def clear_attempts(key: str) -> None:
    await AttemptWindow.delete().where(AttemptWindow.key == key)
