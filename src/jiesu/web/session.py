"""The page session: the same Principal as the API's bearer token, kept in an encrypted cookie."""

from __future__ import annotations

import hashlib
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.session import SessionMiddleware
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from litestar.types import ASGIApp

from jiesu.accounts.security import FILER_ROLE, Principal

SESSION_COOKIE = "jiesu_session"
SESSION_MAX_AGE = 8 * 3600
TRACKED_LIMIT = 5


class LoginRequired(Exception):
    """Raised by the page guard; the router turns it into a redirect to the login page."""


def session_config(secret_key: str, secure: bool) -> CookieBackendConfig:
    # A key of its own, derived from the app secret, so the session cookie and the tokens never share one.
    key = hashlib.sha256(f"jiesu-web-session:{secret_key}".encode()).digest()
    return CookieBackendConfig(
        secret=key,
        key=SESSION_COOKIE,
        max_age=SESSION_MAX_AGE,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/web",
    )


class PageSessionMiddleware(SessionMiddleware):
    """Builds its backend itself: a router is deep-copied when mounted, and the cipher cannot be."""

    def __init__(self, app: ASGIApp, config: CookieBackendConfig) -> None:
        super().__init__(app, backend=ClientSideSessionBackend(config=config))


def session_middleware(secret_key: str, secure: bool) -> DefineMiddleware:
    return DefineMiddleware(PageSessionMiddleware, config=session_config(secret_key, secure))


def principal_to_session(principal: Principal) -> dict[str, Any]:
    return {
        "u": principal.username,
        "r": principal.role,
        "jc": principal.jurisdiction_code,
        "jp": principal.jurisdiction_path,
    }


def session_user(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    data = connection.scope.get("session") or {}
    stored = data.get("user") if isinstance(data, dict) else None
    if not isinstance(stored, dict) or not stored.get("u"):
        return None
    return Principal(
        username=stored["u"],
        role=stored["r"],
        jurisdiction_code=stored.get("jc"),
        jurisdiction_path=stored.get("jp"),
    )


def tracked_ids(connection: ASGIConnection[Any, Any, Any, Any]) -> list[int]:
    data = connection.scope.get("session") or {}
    ids = data.get("tracked", []) if isinstance(data, dict) else []
    return [int(i) for i in ids if isinstance(i, int)]


def filer_principal(case_id: int) -> Principal:
    """Who holds a case's tracking number and access code: the same principal /api/track issues."""
    return Principal(username=f"case-{case_id}", role=FILER_ROLE, case_id=case_id)


def login_required(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    if session_user(connection) is None:
        raise LoginRequired


def roles_required(*roles: str):  # type: ignore[no-untyped-def]
    """A page guard: log in first, then one of ``roles`` (403 page otherwise)."""
    from litestar.exceptions import PermissionDeniedException

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        user = session_user(connection)
        if user is None:
            raise LoginRequired
        if user.role not in roles:
            raise PermissionDeniedException("role")

    return guard
