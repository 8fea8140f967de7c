"""Throttling of everything that checks a secret: logins and tracking codes (API and pages alike) and
registrations, and the bound on how many passwords are hashed at once.

Every attempt is counted BEFORE the password is hashed or the access code compared, with one atomic
UPSERT ... RETURNING per bucket (``jiesu.limits.rate.count_attempt``), so parallel guesses cannot all slip
in under the limit: each takes its own count, and only those within the limit reach the check. Two buckets
per attempt: the account (a username, or a case's tracking number) and the client address. An account is
locked after ``MAX_FAILURES`` attempts within ``WINDOW``; an address after ``per_address``
(``JIESU_FAILED_ATTEMPTS_PER_ADDRESS``). A success forgets the account's failures and gives the address its
attempt back, so only failures (and attempts still being checked) count. Failures are kept per username
whether or not the account exists, so a lockout does not tell an attacker which usernames are real.
Every failure is logged with the username (or tracking number), never the password or the code.

Argon2id costs 64 MiB per hash: ``HashSlots`` lets only a few run at once per process and answers the
others at once with 429 and Retry-After, instead of queueing them (and their memory).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Final, NoReturn, TypeVar

import anyio

from jiesu.clock import Clock
from jiesu.errors import JiesuError, TooManyRequests
from jiesu.limits.rate import clear_attempts, count_attempt, release_attempt

MAX_FAILURES = 5
WINDOW = timedelta(minutes=15)
DEFAULT_PER_ADDRESS = 30
DEFAULT_HASH_SLOTS = 2
HASH_BUSY_RETRY_SECONDS = 1

logger = logging.getLogger("jiesu.accounts.login")

T = TypeVar("T")


@dataclass(frozen=True)
class Kind:
    """One kind of attempt: the field its refusals name and the words of its log lines."""

    name: str
    field: str
    subject: str  # what the account bucket is keyed by, in the log
    refused: str


LOGIN: Final = Kind("login", "username", "username", "too many failed logins")
TRACK: Final = Kind("track", "access_code", "tracking_no", "too many wrong access codes")
REGISTER: Final = Kind("register", "username", "username", "too many failed registrations")


class AccountLocked(TooManyRequests):
    """Too many failed attempts for this account or from this address; ``retry_after`` says when to retry."""


class HashingBusy(TooManyRequests):
    """Every password-hashing slot of this process is taken; retry in a second."""


@dataclass(frozen=True)
class Attempt:
    kind: Kind
    account: str | None
    account_key: str | None
    address_key: str


class HashSlots:
    """At most ``size`` password hashes at once in this process; the next caller gets 429 at once."""

    def __init__(self, size: int = DEFAULT_HASH_SLOTS) -> None:
        self.size = max(1, size)
        self._busy = 0  # the event loop is one thread: no lock needed

    async def run(self, work: Callable[..., T], *args: object) -> T:
        if self._busy >= self.size:
            raise HashingBusy(
                f"password: the server is checking {self.size} other passwords; "
                f"try again in {HASH_BUSY_RETRY_SECONDS} second",
                retry_after=HASH_BUSY_RETRY_SECONDS,
            )
        self._busy += 1
        try:
            # Not abandoned on cancellation: the slot is free only when the hash is done.
            return await anyio.to_thread.run_sync(work, *args)
        finally:
            self._busy -= 1


class Throttle:
    """Counts attempts per account and per client address, in the database (every process shares it)."""

    def __init__(
        self,
        clock: Clock,
        per_address: int = DEFAULT_PER_ADDRESS,
        per_account: int = MAX_FAILURES,
        window: timedelta = WINDOW,
    ) -> None:
        self.clock = clock
        self.per_address = per_address
        self.per_account = per_account
        self.window = int(window.total_seconds())

    async def begin(self, kind: Kind, account: str | None, address: str) -> Attempt:
        """Count the attempt in both buckets; AccountLocked when either is over its limit."""
        now = self.clock().timestamp()
        attempt = Attempt(
            kind,
            account,
            f"{kind.name}:account:{account}"[:200] if account is not None else None,
            f"{kind.name}:address:{address}"[:200],
        )
        if attempt.account_key is not None:
            count, ends = await count_attempt(attempt.account_key, self.window, now)
            if count > self.per_account:
                self._refuse(attempt, ends - now, f"{kind.refused}; try again in {{}} seconds")
        if self.per_address > 0:
            count, ends = await count_attempt(attempt.address_key, self.window, now)
            if count > self.per_address:
                message = f"{kind.refused} from your address; try again in {{}} seconds"
                self._refuse(attempt, ends - now, message)
        return attempt

    def _refuse(self, attempt: Attempt, seconds: float, message: str) -> NoReturn:
        retry_after = max(1, math.ceil(seconds))
        kind = attempt.kind
        logger.warning(
            "%s refused: %s=%r is locked for %d s", kind.name, kind.subject, attempt.account, retry_after
        )
        raise AccountLocked(f"{kind.field}: {message.format(retry_after)}", retry_after=retry_after)

    async def failed(self, attempt: Attempt) -> None:
        """The check failed: the counts stand."""
        kind = attempt.kind
        logger.warning("%s failed: %s=%r", kind.name, kind.subject, attempt.account)

    async def succeeded(self, attempt: Attempt) -> None:
        if attempt.account_key is not None:
            await clear_attempts(attempt.account_key)
        if self.per_address > 0:
            await release_attempt(attempt.address_key)

    async def given_back(self, attempt: Attempt) -> None:
        """The check did not run (the hashing slots were busy): the attempt does not count."""
        for key in (attempt.account_key, attempt.address_key):
            if key is not None:
                await release_attempt(key)

    async def guard(
        self, kind: Kind, account: str | None, address: str, check: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        """Count, then run ``check``: None or a refusal (a JiesuError) is a failure, a value a success."""
        attempt = await self.begin(kind, account, address)
        try:
            result = await check()
        except TooManyRequests:
            await self.given_back(attempt)
            raise
        except JiesuError:
            await self.failed(attempt)
            raise
        if result is None:
            await self.failed(attempt)
        else:
            await self.succeeded(attempt)
        return result
