"""The HTTP side of who is calling: the JWT middleware, route guards, the optional bearer of open routes.

Tokens are signed with the tokens key of the keyring (``jiesu.keys``) and name it in their ``kid``
header; every request then asks ``accounts.standing`` whether the account still backs the token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import Any, ClassVar

import jwt
from litestar.connection import ASGIConnection
from litestar.exceptions import (
    ImproperlyConfiguredException,
    NotAuthorizedException,
    PermissionDeniedException,
)
from litestar.handlers.base import BaseRouteHandler
from litestar.security.jwt import JWTAuth, Token

from jiesu.accounts.security import Principal, principal_from_claims, token_claims
from jiesu.accounts.standing import AccountStandings
from jiesu.keys import Keyring

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], None]

# Anchored: Litestar searches these anywhere in the path, so "/health" alone would open /x/health too.
# /metrics checks its own bearer token (JIESU_METRICS_TOKEN, jiesu.ops.api).
PUBLIC_PATHS = [
    r"^/health$",
    r"^/schema(?:/.*)?$",
    r"^/metrics$",
    r"^/api/auth/token/?$",
    r"^/api/auth/logout/?$",  # reads the token itself: an ended one has nothing left to end
    r"^/api/residents/?$",
    r"^/api/track/?$",
]
# Tokens this app checked, until they expire (the app's state holds them): decoding costs more than
# the rest of a request's authentication (PERFORMANCE.md). The account's standing is checked anyway.
VERIFIED_TOKENS_KEPT = 10_000
# What a token whose account must change its one-time password may still reach.
PASSWORD_CHANGE_PATHS = ("/api/me/password", "/api/auth/logout")
MUST_CHANGE_PASSWORD = (
    "password: this account has a one-time password; change it first (POST /api/me/password)"
)
TOKEN_ENDED = "token: it no longer speaks for its account (logged out, disabled or changed); log in again"


@dataclass
class KeyedToken(Token):
    """A token signed with the keyring's tokens key, the key id in its header."""

    keyring: ClassVar[Keyring]

    @classmethod
    def decode_payload(
        cls,
        encoded_token: str,
        secret: str,
        algorithms: list[str],
        issuer: Any = None,
        audience: Any = None,
        options: Any = None,
    ) -> Any:
        kid = jwt.get_unverified_header(encoded_token).get("kid")
        key = cls.keyring.key("tokens", kid) if isinstance(kid, str) else None
        if key is None:
            raise jwt.exceptions.InvalidTokenError("unknown key id")
        return jwt.decode(
            jwt=encoded_token,
            key=key,
            algorithms=algorithms,
            issuer=issuer,
            audience=audience,
            options=options,
        )

    def encode(self, secret: str, algorithm: str) -> str:
        try:
            return jwt.encode(
                payload={k: v for k, v in asdict(self).items() if v is not None},
                key=self.keyring.current_key("tokens"),
                algorithm=algorithm,
                headers={"kid": self.keyring.kid},
            )
        except (jwt.DecodeError, NotImplementedError) as exc:
            raise ImproperlyConfiguredException("Failed to encode token") from exc


def token_class(keyring: Keyring) -> type[KeyedToken]:
    """A token class of this app's keyring (each app has its own: tests run several)."""

    @dataclass
    class AppToken(KeyedToken):
        pass

    AppToken.keyring = keyring
    return AppToken


def principal_from_token(token: Token) -> Principal:
    return principal_from_claims(token.sub, token.extras)


async def current_principal(
    connection: ASGIConnection[Any, Any, Any, Any], principal: Principal
) -> Principal:
    """The principal as its account stands now: 401 when the token ended, 403 while a one-time password
    must be changed (except on the routes that change it)."""
    standings: AccountStandings = connection.app.state.account_standings
    current = await standings.current(principal)
    if current is None:
        raise NotAuthorizedException(TOKEN_ENDED)
    if current.must_change_password and connection.scope["path"].rstrip("/") not in PASSWORD_CHANGE_PATHS:
        raise PermissionDeniedException(MUST_CHANGE_PASSWORD)
    return current


async def _retrieve_principal(token: Token, connection: ASGIConnection[Any, Any, Any, Any]) -> Principal:
    return await current_principal(connection, principal_from_token(token))


def build_jwt_auth(keyring: Keyring, ttl_minutes: int) -> JWTAuth[Principal, Token]:
    return JWTAuth[Principal, Token](
        retrieve_user_handler=_retrieve_principal,
        # Not used as a key: KeyedToken signs and verifies with the keyring's tokens key.
        token_secret=keyring.kid,
        token_cls=token_class(keyring),
        default_token_expiration=timedelta(minutes=ttl_minutes),
        exclude=PUBLIC_PATHS,
        exclude_opt_key="allow_anonymous",
    )


def issue_token(auth: JWTAuth[Principal, Token], principal: Principal) -> str:
    return auth.create_token(identifier=principal.username, token_extras=token_claims(principal))


async def optional_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
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
        return await current_principal(connection, cached[0])
    auth: JWTAuth[Principal, Token] = connection.app.state.jwt_auth
    token = auth.token_cls.decode(encoded, secret=auth.token_secret, algorithm=auth.algorithm)
    principal = principal_from_token(token)
    if len(verified) >= VERIFIED_TOKENS_KEPT:
        verified.clear()
    verified[encoded] = (principal, token.exp.timestamp())
    return await current_principal(connection, principal)


def require_roles(*roles: str) -> Guard:
    """A guard admitting only callers whose role is one of ``roles``."""

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = connection.scope.get("user")
        if not isinstance(user, Principal) or user.role not in roles:
            raise PermissionDeniedException(f"this needs one of the roles: {', '.join(roles)}")

    return guard
