"""HTTP at the edge: the answer to each of the project's exceptions (``jiesu.errors``), and the error
statuses the OpenAPI document declares. Always JSON with a ``detail`` that says what is wrong and, for
input, which field."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.enums import MediaType
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.exceptions.responses import create_exception_response
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_401_UNAUTHORIZED,
    HTTP_403_FORBIDDEN,
    HTTP_404_NOT_FOUND,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
    HTTP_429_TOO_MANY_REQUESTS,
    HTTP_507_INSUFFICIENT_STORAGE,
)
from litestar.types import ExceptionHandlersMap

from jiesu import errors

# OpenAPI security of an operation open to anonymous callers: an empty requirement overrides the app's
# global bearer requirement, so clients (and schemathesis) know the Authorization header is optional.
OPEN_TO_ANONYMOUS: list[dict[str, list[str]]] = [{}]


# ---- what the OpenAPI document declares (``raises=``); the names become the answers' descriptions ----


class AlreadyExists(HTTPException):
    """409: the thing to create exists already."""

    status_code = HTTP_409_CONFLICT


class Conflict(HTTPException):
    """409: the request clashes with the current state of what it changes."""

    status_code = HTTP_409_CONFLICT


class Unprocessable(HTTPException):
    """422: well-formed but unusable, e.g. an Idempotency-Key reused with another body."""

    status_code = HTTP_422_UNPROCESSABLE_ENTITY


class CaseConflict(HTTPException):
    """409: the action is not allowed in the case's state, or the version is stale."""

    status_code = HTTP_409_CONFLICT


class AccountLocked(HTTPException):
    """429: too many failed attempts for this account or from this address, or every password-hashing slot
    is busy; Retry-After says when to try again."""

    status_code = HTTP_429_TOO_MANY_REQUESTS


COMMON_ERROR_ANSWERS: list[type[HTTPException]] = [
    ValidationException,
    NotAuthorizedException,
    PermissionDeniedException,
    NotFoundException,
    AlreadyExists,
    TooManyRequestsException,
]


# ---- the answers ----------------------------------------------------------------------------------

STATUS_OF: dict[type[errors.JiesuError], int] = {
    errors.InvalidInput: HTTP_400_BAD_REQUEST,
    errors.NotAuthenticated: HTTP_401_UNAUTHORIZED,
    errors.Forbidden: HTTP_403_FORBIDDEN,
    errors.NotFound: HTTP_404_NOT_FOUND,
    errors.Conflict: HTTP_409_CONFLICT,
    errors.Unprocessable: HTTP_422_UNPROCESSABLE_ENTITY,
    errors.TooManyRequests: HTTP_429_TOO_MANY_REQUESTS,
    errors.InsufficientStorage: HTTP_507_INSUFFICIENT_STORAGE,
}


def status_of(exc: errors.JiesuError) -> int:
    """The status of the nearest class of ``exc`` that has one; 400 for any other refusal."""
    for cls in type(exc).__mro__:
        if cls in STATUS_OF:
            return STATUS_OF[cls]
    return HTTP_400_BAD_REQUEST


def headers_of(exc: errors.JiesuError) -> dict[str, str] | None:
    if isinstance(exc, errors.TooManyRequests):
        return {"Retry-After": str(exc.retry_after)}
    return None


def as_http(exc: errors.JiesuError) -> HTTPException:
    """The framework's exception for ``exc``, for adapters that answer in their own format (Open311)."""
    if isinstance(exc, errors.InvalidInput):
        return ValidationException(detail=exc.detail, extra=exc.extra or None)
    return HTTPException(status_code=status_of(exc), detail=exc.detail, headers=headers_of(exc))


def _validation_answer(detail: str, problems: list[Any]) -> Response[dict[str, Any]]:
    """Litestar's default detail ("Validation failed for POST /x") names no field; this one does."""
    parts = []
    for problem in problems:
        if isinstance(problem, dict):
            key = problem.get("key") or problem.get("source") or "body"
            parts.append(f"{key}: {problem.get('message', 'invalid')}")
    detail = "; ".join(parts) if parts else detail
    if detail.startswith("Validation failed for"):
        detail = f"body: {detail}"
    return Response(
        {"status_code": HTTP_400_BAD_REQUEST, "detail": detail, "extra": problems},
        status_code=HTTP_400_BAD_REQUEST,
    )


def _framework_validation_handler(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[dict[str, Any]]:
    return _validation_answer(str(exc.detail), exc.extra if isinstance(exc.extra, list) else [])


def _conflict_body(exc: errors.CaseConflict) -> dict[str, Any]:
    return {
        "status_code": HTTP_409_CONFLICT,
        "detail": exc.detail,
        "state": exc.state,
        "version": exc.version,
        "allowed_actions": exc.allowed_actions,
    }


def domain_error_handler(_: Request[Any, Any, Any], exc: errors.JiesuError) -> Response[dict[str, Any]]:
    """The same bodies as the framework's own errors: ``status_code`` and ``detail`` (and the case's
    state for a case conflict, the fields for invalid input)."""
    if isinstance(exc, errors.InvalidInput):
        return _validation_answer(exc.detail, list(exc.extra))
    if isinstance(exc, errors.CaseConflict):
        return Response(_conflict_body(exc), status_code=HTTP_409_CONFLICT)
    status = status_of(exc)
    return Response(
        {"status_code": status, "detail": exc.detail}, status_code=status, headers=headers_of(exc)
    )


def _api_http_error_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    """The API answers errors in JSON, also on a route that answers HTML or a PDF (Litestar's default
    would label the JSON body with the route's media type); the pages keep the framework's answer."""
    if not request.url.path.startswith("/api/"):
        return create_exception_response(request, exc)
    body: dict[str, Any] = {"status_code": exc.status_code, "detail": exc.detail}
    if exc.extra:
        body["extra"] = exc.extra
    return Response(body, status_code=exc.status_code, headers=exc.headers, media_type=MediaType.JSON)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    HTTPException: _api_http_error_handler,
    errors.JiesuError: domain_error_handler,
    ValidationException: _framework_validation_handler,
}
