"""The HTTP side of who is calling: the JWT middleware, route guards, the optional bearer of open routes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTAuth, Token

from jiesu.accounts.security import Principal, principal_from_claims, token_claims

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]

# Anchored: Litestar searches these anywhere in the path, so "/health" alone would open /x/health too.
# /metrics checks its own bearer token (JIESU_METRICS_TOKEN, jiesu.ops.api).
PUBLIC_PATHS = [
    r"^/health$",
    r"^/schema(?:/.*)?$",
    r"^/metrics$",
    r"^/api/auth/token/?$",
    r"^/api/residents/?$",
    r"^/api/track/?$",
]
# Tokens this app checked, until they expire (the app's state holds them): decoding costs more than
# the rest of a request's authentication (PERFORMANCE.md).
VERIFIED_TOKENS_KEPT = 10_000


def principal_from_token(token: Token) -> Principal:
    return principal_from_claims(token.sub, token.extras)


async def _retrieve_principal(token: Token, _: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    return principal_from_token(token)


def build_jwt_auth(secret: str, ttl_minutes: int) -> JWTAuth[Principal, Token]:
    return JWTAuth[Principal, Token](
        retrieve_user_handler=_retrieve_principal,
        token_secret=secret,
        default_token_expiration=timedelta(minutes=ttl_minutes),
        exclude=PUBLIC_PATHS,
        exclude_opt_key="allow_anonymous",
    )


def issue_token(auth: JWTAuth[Principal, Token], principal: Principal) -> str:
    return auth.create_token(identifier=principal.username, token_extras=token_claims(principal))


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


def require_roles(*roles: str) -> Guard:
    """A guard admitting only callers whose role is one of ``roles``."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if not isinstance(user, Principal) or user.role not in roles:
            raise PermissionDeniedException(f"this needs one of the roles: {', '.join(roles)}")

    return guard
