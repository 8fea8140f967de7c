"""Whether a token or page session still speaks for its account.

A token and a session carry the account's token version from when they were issued. Disabling the
account, changing its role or jurisdiction, changing or resetting its password, logging out and erasure
raise the version (``bump_token_version``), which ends every token and session issued before. Each
process reads an account's standing at most every ``ttl_seconds`` (``JIESU_ACCOUNT_CHECK_SECONDS``), so
another process notices a change within that time; the process that made the change forgets at once.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from jiesu.accounts.security import FILER_ROLE, Principal, with_standing
from jiesu.accounts.tables import User

STANDINGS_KEPT = 10_000


@dataclass(frozen=True, slots=True)
class Standing:
    active: bool
    token_version: int
    must_change_password: bool


async def read_standing(username: str) -> Standing | None:
    row = (
        await User.select(User.active, User.token_version, User.must_change_password)
        .where(User.username == username)
        .first()
    )
    if row is None:
        return None
    return Standing(bool(row["active"]), int(row["token_version"]), bool(row["must_change_password"]))


# Every cache of this process, so a change made here is seen here at once (other processes: ttl_seconds).
_CACHES: weakref.WeakSet[AccountStandings] = weakref.WeakSet()


def forget_everywhere(username: str) -> None:
    for cache in list(_CACHES):
        cache.forget(username)


async def bump_token_version(username: str) -> None:
    """End every token and session of ``username`` issued so far. Call inside the change's transaction."""
    await User.update({User.token_version: User.token_version + 1}).where(User.username == username)
    forget_everywhere(username)


class AccountStandings:
    """The standing of the accounts this process saw lately, kept for ``ttl_seconds``."""

    def __init__(self, ttl_seconds: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.ttl_seconds = ttl_seconds
        self._monotonic = monotonic
        self._seen: dict[str, tuple[Standing | None, float]] = {}
        _CACHES.add(self)

    def forget(self, username: str) -> None:
        self._seen.pop(username, None)

    async def of(self, username: str) -> Standing | None:
        now = self._monotonic()
        cached = self._seen.get(username)
        if cached is not None and cached[1] > now:
            return cached[0]
        standing = await read_standing(username)
        if self.ttl_seconds > 0:
            if len(self._seen) >= STANDINGS_KEPT:
                self._seen.clear()
            self._seen[username] = (standing, now + self.ttl_seconds)
        return standing

    async def current(self, principal: Principal) -> Principal | None:
        """The principal as its account stands now; None when the account no longer backs it.

        Access-code holders (``filer``) have no account: their token names one case and ends with it.
        """
        if principal.role == FILER_ROLE:
            return principal
        standing = await self.of(principal.username)
        if standing is None or not standing.active or standing.token_version != principal.token_version:
            return None
        return with_standing(principal, standing.must_change_password)
