"""Who is calling: principals and roles, password hashing, and what a token says about its principal.

The HTTP side (the JWT middleware, guards, reading the bearer header) is jiesu.accounts.auth.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY

ROLES = ("resident", "worker", "dispatcher", "supervisor", "admin")
STAFF = ("worker", "dispatcher", "supervisor", "admin")
FILER_ROLE = "filer"  # an access-code holder: may act as the filer of exactly one case


@dataclass(frozen=True, slots=True)
class Principal:
    username: str
    role: str
    jurisdiction_code: str | None = None
    jurisdiction_path: str | None = None
    case_id: int | None = None  # only for access-code tokens
    # The account's token version when the token or session was issued (accounts.standing checks it).
    token_version: int = 0
    # Set by accounts.standing from the account: a one-time password that must be changed first.
    must_change_password: bool = False

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    def in_scope(self, jurisdiction_path: str | None) -> bool:
        """Staff without a jurisdiction work city-wide; the others see their subtree."""
        if self.jurisdiction_path is None:
            return self.role != "worker"
        if not jurisdiction_path:
            return False
        return jurisdiction_path.startswith(self.jurisdiction_path)


class Passwords:
    def __init__(self, profile: str = "default") -> None:
        params = CHEAPEST if profile == "fast" else RFC_9106_LOW_MEMORY
        self._hasher = PasswordHasher.from_parameters(params)
        self._dummy = self._hasher.hash("timing-equaliser")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        """Constant work whether or not the user exists."""
        try:
            return self._hasher.verify(password_hash or self._dummy, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False


# Names no one may register or be given, compared case-insensitively: jiesu's own actors, the initial
# admin, and the prefix erased accounts are renamed to.
RESERVED_USERNAMES = frozenset(
    {"admin", "administrator", "root", "system", "anonymous", "jiesu", "filer", "staff", "support", "null"}
)
RESERVED_PREFIXES = ("deleted-", "case-")


def fold_username(username: str) -> str:
    return username.strip().casefold()


def is_reserved_username(username: str) -> bool:
    folded = fold_username(username)
    return folded in RESERVED_USERNAMES or folded.startswith(RESERVED_PREFIXES)


def username_key(username: str) -> str:
    """How a tombstone remembers an erased username: a hash of the folded name, not the name."""
    return hashlib.sha256(f"jiesu-username:{fold_username(username)}".encode()).hexdigest()


def with_standing(principal: Principal, must_change_password: bool) -> Principal:
    return replace(principal, must_change_password=must_change_password)


# jiesu itself: immediate acceptance and dispatch at intake, the sweeper.
SYSTEM = Principal(username="system", role="system")


def token_claims(principal: Principal) -> dict[str, Any]:
    """The claims a token carries besides its subject (the username)."""
    claims: dict[str, Any] = {"role": principal.role, "tv": principal.token_version}
    if principal.jurisdiction_code:
        claims["jc"] = principal.jurisdiction_code
        claims["jp"] = principal.jurisdiction_path
    if principal.case_id is not None:
        claims["cid"] = principal.case_id
    return claims


def principal_from_claims(subject: str, claims: Mapping[str, Any]) -> Principal:
    return Principal(
        username=subject,
        role=str(claims.get("role", "")),
        jurisdiction_code=claims.get("jc"),
        jurisdiction_path=claims.get("jp"),
        case_id=claims.get("cid"),
        token_version=int(claims.get("tv") or 0),
    )
