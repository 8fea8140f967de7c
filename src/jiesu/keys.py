"""One key per use, derived from the app secret with HKDF-SHA256 (RFC 5869), and a key id per secret.

The secret (``JIESU_SECRET_KEY``) is never used as a key itself: each use (bearer tokens, access codes,
the CSRF cookie, the page session, the audit) gets its own key, ``HKDF(secret, info="jiesu/<use>")``,
so a key that leaks from one use opens nothing else. Each secret has a key id (``kid``), derived the same
way: tokens carry it in their header and access codes keep it beside their nonce, so after a rotation
(the new secret current, the old one in ``JIESU_RETIRED_SECRET_KEYS``) what was made with the old secret
still verifies, and new tokens and codes use the new one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

USES = ("tokens", "access-codes", "csrf", "sessions", "audit")
KEY_BYTES = 32
SALT = b"jiesu key derivation v1"


@lru_cache(maxsize=64)
def derive(secret: str, info: str, length: int = KEY_BYTES) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=SALT, info=info.encode()).derive(
        secret.encode()
    )


def key_id(secret: str) -> str:
    """A short public name of a secret: reveals nothing of it, differs between secrets."""
    return derive(secret, "jiesu/key-id", 6).hex()


@dataclass(frozen=True)
class Keyring:
    """The current secret and the retired ones that are still accepted, each known by its key id."""

    current: str = field(repr=False)
    retired: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        if not self.current:
            raise ValueError("the keyring needs a current secret")

    @property
    def kid(self) -> str:
        return key_id(self.current)

    def kids(self) -> list[str]:
        return [key_id(secret) for secret in (self.current, *self.retired)]

    def key(self, use: str, kid: str | None = None) -> bytes | None:
        """The key for ``use`` under the secret ``kid`` (the current one by default); None when unknown."""
        if use not in USES:
            raise ValueError(f"no key use {use!r}")
        for secret in (self.current, *self.retired):
            if kid is None or key_id(secret) == kid:
                return derive(secret, f"jiesu/{use}")
        return None

    def current_key(self, use: str) -> bytes:
        key = self.key(use)
        assert key is not None
        return key
