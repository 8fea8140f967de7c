"""Login lockout: after 5 failed logins for one username within 15 minutes, that username is locked
until the oldest of those failures leaves the window. Every failure is logged with the username, never
the password. Failures are kept per username whether or not the account exists, so the lockout does not
tell an attacker which usernames are real.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from jiesu.accounts.tables import LoginFailure
from jiesu.db import write_transaction
from jiesu.errors import TooManyRequests

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)

logger = logging.getLogger("jiesu.accounts.login")


class AccountLocked(TooManyRequests):
    """Too many failed logins for this username; ``retry_after`` says when to try again."""


async def _recent_failures(username: str, now: datetime) -> list[datetime]:
    rows = (
        await LoginFailure.select(LoginFailure.failed_at)
        .where((LoginFailure.username == username) & (LoginFailure.failed_at > now - WINDOW))
        .order_by(LoginFailure.failed_at)
    )
    return [row["failed_at"] for row in rows]


async def check_not_locked(username: str, now: datetime) -> int:
    """Raise AccountLocked when locked; otherwise the number of recent failures."""
    failures = await _recent_failures(username, now)
    if len(failures) >= MAX_FAILURES:
        unlock_at = failures[-MAX_FAILURES] + WINDOW
        retry_after = max(1, math.ceil((unlock_at - now).total_seconds()))
        logger.warning("login refused: username=%r is locked for %d s", username, retry_after)
        raise AccountLocked(
            f"username: too many failed logins; try again in {retry_after} seconds",
            retry_after=retry_after,
        )
    return len(failures)


async def record_failure(username: str, now: datetime) -> None:
    async with write_transaction():
        await LoginFailure.delete().where(
            (LoginFailure.username == username) & (LoginFailure.failed_at <= now - WINDOW)
        )
        await LoginFailure.insert(LoginFailure(username=username, failed_at=now))
    count = len(await _recent_failures(username, now))
    logger.warning("login failed: username=%r (%d of %d allowed)", username, count, MAX_FAILURES)


async def clear_failures(username: str) -> None:
    await LoginFailure.delete().where(LoginFailure.username == username)
