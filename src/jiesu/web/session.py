"""The page session: the same Principal as the API's bearer token, kept in an encrypted cookie.

The cookie carries the account's token version; ``SessionStandingMiddleware`` asks the account's
standing (``jiesu.accounts.standing``) on every page request, so a session ends with its account's
disabling, role or jurisdiction change, password change, erasure or logout, like the bearer tokens.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.session import SessionMiddleware
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from litestar.response.redirect import ASGIRedirectResponse as ASGIRedirect
from litestar.types import ASGIApp, Receive, Scope, Send

from jiesu.accounts.security import FILER_ROLE, Principal
from jiesu.accounts.standing import AccountStandings
from jiesu.keys import Keyring

SESSION_COOKIE = "jiesu_session"
SESSION_MAX_AGE = 8 * 3600
TRACKED_LIMIT = 5


class LoginRequired(Exception):
    """Raised by the page guard; the router turns it into a redirect to the login page."""


# Pages a session whose account must change its one-time password may still reach.
PASSWORD_PAGE = "/web/password"
OPEN_WHILE_PASSWORD_MUST_CHANGE = (PASSWORD_PAGE, "/web/logout", "/web/static/", "/web/lang/")


def session_config(keys: Keyring, secure: bool) -> CookieBackendConfig:
    # A key of its own (jiesu.keys), so the session cookie and the tokens never share one.
    key = keys.current_key("sessions")
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


def session_middleware(keys: Keyring, secure: bool) -> DefineMiddleware:
    return DefineMiddleware(PageSessionMiddleware, config=session_config(keys, secure))


def principal_to_session(principal: Principal) -> dict[str, Any]:
    return {
        "u": principal.username,
        "r": principal.role,
        "jc": principal.jurisdiction_code,
        "jp": principal.jurisdiction_path,
        "tv": principal.token_version,
    }


def _stored_principal(stored: Any) -> Principal | None:
    if not isinstance(stored, dict) or not stored.get("u"):
        return None
    return Principal(
        username=stored["u"],
        role=stored["r"],
        jurisdiction_code=stored.get("jc"),
        jurisdiction_path=stored.get("jp"),
        token_version=int(stored.get("tv") or 0),
        must_change_password=bool(stored.get("mc")),
    )


def session_user(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    data = connection.scope.get("session") or {}
    return _stored_principal(data.get("user") if isinstance(data, dict) else None)


class SessionStandingMiddleware:
    """After the session middleware: drops the session's user when the account no longer backs it, and
    sends a user whose one-time password must be changed to the password page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session")
        principal = _stored_principal(session.get("user")) if isinstance(session, dict) else None
        if scope["type"] == "http" and isinstance(session, dict) and principal is not None:
            standings: AccountStandings = Litestar.from_scope(scope).state.account_standings
            current = await standings.current(principal)
            if current is None:
                session.pop("user", None)
            else:
                session["user"]["mc"] = current.must_change_password
                path = scope["path"]
                if current.must_change_password and not path.startswith(OPEN_WHILE_PASSWORD_MUST_CHANGE):
                    redirect = ASGIRedirect(path=PASSWORD_PAGE, status_code=303)
                    await redirect(scope, receive, send)
                    return
        await self.app(scope, receive, send)


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
