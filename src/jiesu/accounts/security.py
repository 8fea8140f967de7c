"""Who is calling: the principal carried in a signed bearer token, password hashing, guards."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from argon2.profiles import CHEAPEST, RFC_9106_LOW_MEMORY
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTAuth, Token

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

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    def in_scope(self, jurisdiction_path: str | None) -> bool:
        """Staff without a jurisdiction work city-wide; the others see their subtree."""
        if self.jurisdiction_path is None:
            return self.role != "worker"
        return bool(jurisdiction_path) and jurisdiction_path.startswith(self.jurisdiction_path)


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


# jiesu itself: immediate acceptance and dispatch at intake, the sweeper.
SYSTEM = Principal(username="system", role="system")


def principal_from_token(token: Token) -> Principal:
    extras = token.extras
    return Principal(
        username=token.sub,
        role=str(extras.get("role", "")),
        jurisdiction_code=extras.get("jc"),
        jurisdiction_path=extras.get("jp"),
        case_id=extras.get("cid"),
    )


async def _retrieve_principal(token: Token, _: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    return principal_from_token(token)


PUBLIC_PATHS = ["/health", "/schema", "/metrics", "/api/auth/", "/api/residents$", "/api/track$"]


def build_jwt_auth(secret: str, ttl_minutes: int) -> JWTAuth[Principal, Token]:
    return JWTAuth[Principal, Token](
        retrieve_user_handler=_retrieve_principal,
        token_secret=secret,
        default_token_expiration=timedelta(minutes=ttl_minutes),
        exclude=PUBLIC_PATHS,
        exclude_opt_key="allow_anonymous",
    )


def issue_token(auth: JWTAuth[Principal, Token], principal: Principal) -> str:
    extras: dict[str, Any] = {"role": principal.role}
    if principal.jurisdiction_code:
        extras["jc"] = principal.jurisdiction_code
        extras["jp"] = principal.jurisdiction_path
    if principal.case_id is not None:
        extras["cid"] = principal.case_id
    return auth.create_token(identifier=principal.username, token_extras=extras)


def optional_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    """For routes open to anonymous callers: the principal when a valid bearer token is sent."""
    header = connection.headers.get("authorization", "")
    if not header:
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "bearer" or not encoded:
        raise NotAuthorizedException("Authorization header must be 'Bearer <token>'")
    verified: dict[str, tuple[Principal, float]] = connection.app.state.verified_tokens
    cached = verified.get(encoded)
    if cached is not None and cached[1] > time.time():
        return cached[0]
    auth: JWTAuth[Principal, Token] = connection.app.state.jwt_auth
    token = Token.decode(encoded, secret=auth.token_secret, algorithm=auth.algorithm)
    principal = principal_from_token(token)
    if len(verified) >= VERIFIED_TOKENS_KEPT:
        verified.clear()
    verified[encoded] = (principal, token.exp.timestamp())
    return principal


# Tokens this app checked, until they expire (the app's state holds them): decoding costs more than
# the rest of a request's authentication (PERFORMANCE.md).
VERIFIED_TOKENS_KEPT = 10_000


def require_roles(*roles: str):  # type: ignore[no-untyped-def]
    """A guard admitting only callers whose role is one of ``roles``."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if not isinstance(user, Principal) or user.role not in roles:
            raise PermissionDeniedException(f"this needs one of the roles: {', '.join(roles)}")

    return guard
