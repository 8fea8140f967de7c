"""Operations at the HTTP edge: one ASGI middleware for every request (the request id, the access log line,
the latency metric), and the log line of a server error."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from litestar._asgi.utils import wrap_in_exception_handler
from litestar.config.app import AppConfig
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import HTTPException
from litestar.middleware.base import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from jiesu.errors import JiesuError
from jiesu.ops.logs import get_logger
from jiesu.ops.metrics import HttpMetrics, labels_for

REQUEST_ID_HEADER = "X-Request-ID"
# Answers of the API and the pages may carry personal data: no cache (browser or proxy) keeps them.
# The pages' static files and the public schema may be cached.
NO_STORE_PREFIXES = ("/api/", "/web/", "/open311/")
CACHEABLE_PREFIXES = ("/web/static/",)
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

log = get_logger("jiesu.http")


def request_id_from(scope: Scope) -> str:
    """The caller's id when it is a plain token (a proxy's), else a new one."""
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            if VALID_REQUEST_ID.match(text):
                return text
    return uuid.uuid4().hex


def observability_middleware(metrics: HttpMetrics) -> Any:
    def factory(app: ASGIApp) -> ASGIApp:
        # Errors raised further in (authentication, say) become responses inside this middleware, so
        # they carry the request id and are logged and counted with their real status.
        app = wrap_in_exception_handler(app)

        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            request_id = request_id_from(scope)
            path = scope.get("path", "")
            no_store = path.startswith(NO_STORE_PREFIXES) and not path.startswith(CACHEABLE_PREFIXES)
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(request_id=request_id)
            status = 500
            started = time.perf_counter()

            async def send_with_id(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = MutableScopeHeaders.from_message(message)
                    headers[REQUEST_ID_HEADER] = request_id
                    if no_store:
                        headers["Cache-Control"] = "no-store"
                await send(message)

            try:
                await app(scope, receive, send_with_id)
            finally:
                elapsed = time.perf_counter() - started
                method, route = labels_for(scope)  # type: ignore[arg-type]
                metrics.observe(method, route, status, elapsed)
                log.info(
                    "request",
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
                structlog.contextvars.clear_contextvars()

        return middleware

    return factory


def install(metrics: HttpMetrics) -> Any:
    """An ``on_app_init`` hook that puts the middleware outermost, outside authentication."""

    def on_app_init(app_config: AppConfig) -> AppConfig:
        app_config.middleware.insert(0, DefineMiddleware(observability_middleware(metrics)))
        return app_config

    return on_app_init


async def log_unexpected(exc: Exception, scope: Any) -> None:
    """Litestar's ``after_exception`` hook: a server error's traceback, never a client error."""
    if isinstance(exc, JiesuError) or (isinstance(exc, HTTPException) and exc.status_code < 500):
        return
    get_logger("jiesu.error").error(
        "unhandled", route=scope.get("path_template"), error=type(exc).__name__, exc_info=exc
    )
