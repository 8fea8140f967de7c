"""The web pages: server-rendered with Jinja, a cookie session carrying the API's Principal, CSRF on forms.

``web_routes(settings, keys)`` gives the router to mount and ``template_config()`` the template engine; the
session and CSRF middleware sit on this router only, so the bearer-token API is untouched by them. The
pages opt out of the JWT middleware (``allow_anonymous``) and check the session themselves.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, Router, get
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import ResponseHeader
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.middleware import DefineMiddleware
from litestar.middleware.csrf import CSRFMiddleware
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_507_INSUFFICIENT_STORAGE,
)

from jiesu.config import Settings
from jiesu.errors import Forbidden, InsufficientStorage, NotFound, TooManyRequests
from jiesu.keys import Keyring
from jiesu.web.controllers import PAGE_CONTROLLERS
from jiesu.web.pages import PREFIX, STATIC_DIR, render, see_other, template_config
from jiesu.web.session import LoginRequired, SessionStandingMiddleware, session_middleware

__all__ = ["template_config", "web_routes"]

CSRF_COOKIE = "jiesu_csrf"
# A 5 MB photo and the form's fields; larger bodies are refused before they are read.
MAX_FORM_BYTES = 6 * 1024 * 1024
SECURITY_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="same-origin"),
    ResponseHeader(name="X-Frame-Options", value="DENY"),
]


def _to_login(request: Request[Any, Any, Any], _: LoginRequired) -> Response[Any]:
    return Redirect(path=f"{PREFIX}/login?next_path={quote(request.url.path)}", status_code=303)


def _not_found(request: Request[Any, Any, Any], _: NotFoundException | NotFound) -> Response[Any]:
    return render(request, "error.html", HTTP_404_NOT_FOUND, code=404)


def _forbidden(request: Request[Any, Any, Any], exc: PermissionDeniedException | Forbidden) -> Response[Any]:
    csrf = "CSRF" in str(exc.detail)
    return render(request, "error.html", HTTP_403_FORBIDDEN, code=403, csrf=csrf)


def _too_large(request: Request[Any, Any, Any], _: RequestEntityTooLarge) -> Response[Any]:
    return render(request, "error.html", HTTP_413_REQUEST_ENTITY_TOO_LARGE, code=413)


def _too_many(request: Request[Any, Any, Any], exc: TooManyRequests) -> Response[Any]:
    """A lockout (logins, tracking codes) or the anonymous filing limit, shared with the API."""
    response = render(request, "error.html", HTTP_429_TOO_MANY_REQUESTS, code=429)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


def _disk_full(request: Request[Any, Any, Any], _: InsufficientStorage) -> Response[Any]:
    return render(request, "error.html", HTTP_507_INSUFFICIENT_STORAGE, code=507)


def _unreadable(request: Request[Any, Any, Any], _: UnicodeDecodeError) -> Response[Any]:
    """A form part that is not UTF-8 text: Litestar's multipart parser reads a part whose file name it
    cannot parse (a raw quote or line break in it) as a text field and fails to decode it."""
    return render(request, "error.html", HTTP_400_BAD_REQUEST, code=400)


@get("/", include_in_schema=False, opt={"allow_anonymous": True})
async def root() -> Redirect:
    return see_other(f"{PREFIX}/")


def web_routes(settings: Settings, keys: Keyring) -> list[Any]:
    secure_cookies = settings.web_secure_cookies
    csrf_secret = keys.current_key("csrf").hex()
    csrf = CSRFConfig(
        secret=csrf_secret,
        cookie_name=CSRF_COOKIE,
        cookie_secure=secure_cookies,
        cookie_httponly=True,
        cookie_samesite="lax",
        cookie_path=PREFIX,
    )
    pages = Router(
        path=PREFIX,
        route_handlers=PAGE_CONTROLLERS,
        middleware=[
            session_middleware(keys, secure_cookies),
            SessionStandingMiddleware,
            DefineMiddleware(CSRFMiddleware, config=csrf),
        ],
        exception_handlers={
            LoginRequired: _to_login,
            NotFoundException: _not_found,
            NotFound: _not_found,
            PermissionDeniedException: _forbidden,
            Forbidden: _forbidden,
            RequestEntityTooLarge: _too_large,
            UnicodeDecodeError: _unreadable,
            TooManyRequests: _too_many,
            InsufficientStorage: _disk_full,
        },
        request_max_body_size=MAX_FORM_BYTES,
        response_headers=SECURITY_HEADERS,
        opt={"allow_anonymous": True},
        include_in_schema=False,
    )
    static = create_static_files_router(
        path=f"{PREFIX}/static",
        directories=[STATIC_DIR],
        opt={"allow_anonymous": True},
        include_in_schema=False,
        name="web_static",
    )
    return [root, pages, static]
