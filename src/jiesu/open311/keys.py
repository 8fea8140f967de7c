"""Open311 API keys: issued and revoked by the admin, stored as hashes, rate limited per key."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from jiesu.clock import Clock
from jiesu.db import write_transaction
from jiesu.errors import NotFound
from jiesu.open311.tables import Open311Key

KEY_PREFIX = "o311_"
RATE_WINDOW = timedelta(minutes=1)


def key_hash(api_key: str) -> str:
    """Keys are 256 random bits, so a plain SHA-256 is enough to make a stolen table useless."""
    return hashlib.sha256(api_key.encode()).hexdigest()


@dataclass(frozen=True)
class KeyCheck:
    """The outcome of presenting a key: which key, and whether it is over its rate."""

    key_id: int | None
    name: str | None
    limited: bool = False
    retry_after: int = 0


class KeyService:
    def __init__(self, clock: Clock, rate_per_minute: int) -> None:
        self.clock = clock
        self.rate_per_minute = rate_per_minute

    async def issue(self, name: str) -> tuple[int, str]:
        api_key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = Open311Key(name=name, key_hash=key_hash(api_key), created_at=self.clock())
        async with write_transaction():
            await Open311Key.insert(row)
        return row.id, api_key

    async def revoke(self, key_id: int) -> None:
        async with write_transaction():
            revoked = (
                await Open311Key.update({Open311Key.revoked_at: self.clock()})
                .where((Open311Key.id == key_id) & Open311Key.revoked_at.is_null())
                .returning(Open311Key.id)
            )
        if not revoked:
            raise NotFound(f"no active Open311 key {key_id}")

    async def list_keys(self) -> list[dict[str, Any]]:
        return await Open311Key.select(
            Open311Key.id, Open311Key.name, Open311Key.created_at, Open311Key.revoked_at
        ).order_by(Open311Key.id)

    async def use(self, api_key: str) -> KeyCheck:
        """Count one use of ``api_key`` in its current one-minute window."""
        now = self.clock()
        async with write_transaction():
            row = (
                await Open311Key.select()
                .where((Open311Key.key_hash == key_hash(api_key)) & Open311Key.revoked_at.is_null())
                .first()
            )
            if row is None:
                return KeyCheck(None, None)
            start = row["window_start"]
            if start is None or now - start >= RATE_WINDOW:
                start, count = now, 0
            else:
                count = row["window_count"]
            if count >= self.rate_per_minute:
                retry = int((start + RATE_WINDOW - now).total_seconds()) + 1
                return KeyCheck(row["id"], row["name"], limited=True, retry_after=retry)
            await Open311Key.update(
                {Open311Key.window_start: start, Open311Key.window_count: count + 1}
            ).where(Open311Key.id == row["id"])
        return KeyCheck(row["id"], row["name"])
