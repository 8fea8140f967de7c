"""Error answers: always JSON with a ``detail`` that says what is wrong and, for input, which field."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
    ValidationException,
)
from litestar.status_codes import (
    HTTP_400_BAD_REQUEST,
    HTTP_409_CONFLICT,
    HTTP_422_UNPROCESSABLE_ENTITY,
)

# OpenAPI security of an operation open to anonymous callers: an empty requirement overrides the app's
# global bearer requirement, so clients (and schemathesis) know the Authorization header is optional.
OPEN_TO_ANONYMOUS: list[dict[str, list[str]]] = [{}]


class AlreadyExists(HTTPException):
    """409: the thing to create exists already (declared in the OpenAPI schema through ``raises``)."""

    status_code = HTTP_409_CONFLICT


class Unprocessable(HTTPException):
    """422: well-formed but unusable, e.g. an Idempotency-Key reused with another body."""

    status_code = HTTP_422_UNPROCESSABLE_ENTITY


class CaseConflict(HTTPException):
    """409: the action is not allowed in the case's state, or the version is stale."""

    status_code = HTTP_409_CONFLICT

    def __init__(self, detail: str, *, state: str, version: int, allowed_actions: list[str]):
        super().__init__(detail=detail)
        self.state = state
        self.version = version
        self.allowed_actions = allowed_actions


# What a check raises to refuse an action (the batched intake then tries another worker).
REFUSALS: tuple[type[HTTPException], ...] = (ValidationException, PermissionDeniedException, CaseConflict)


def field_error(field: str, message: str) -> ValidationException:
    """A 400 naming one field, in the same shape as the framework's own validation errors."""
    return ValidationException(
        detail=f"{field}: {message}",
        extra=[{"key": field, "message": message, "source": "body"}],
    )


def not_found(detail: str) -> NotFoundException:
    """A 404, for services that name no HTTP type of their own."""
    return NotFoundException(detail)


def forbidden(detail: str) -> PermissionDeniedException:
    """A 403, for services that name no HTTP type of their own."""
    return PermissionDeniedException(detail)


def _conflict_handler(_: Request[Any, Any, Any], exc: CaseConflict) -> Response[dict[str, Any]]:
    return Response(
        {
            "status_code": exc.status_code,
            "detail": exc.detail,
            "state": exc.state,
            "version": exc.version,
            "allowed_actions": exc.allowed_actions,
        },
        status_code=exc.status_code,
    )


def _validation_handler(_: Request[Any, Any, Any], exc: ValidationException) -> Response[dict[str, Any]]:
    """Litestar's default detail ("Validation failed for POST /x") names no field; this one does."""
    problems = exc.extra if isinstance(exc.extra, list) else []
    parts = []
    for problem in problems:
        if isinstance(problem, dict):
            key = problem.get("key") or problem.get("source") or "body"
            parts.append(f"{key}: {problem.get('message', 'invalid')}")
    detail = "; ".join(parts) if parts else str(exc.detail)
    if detail.startswith("Validation failed for"):
        detail = f"body: {detail}"
    return Response(
        {"status_code": HTTP_400_BAD_REQUEST, "detail": detail, "extra": problems},
        status_code=HTTP_400_BAD_REQUEST,
    )


COMMON_ERROR_ANSWERS: list[type[HTTPException]] = [
    ValidationException,
    NotAuthorizedException,
    PermissionDeniedException,
    NotFoundException,
    AlreadyExists,
    TooManyRequestsException,
]

EXCEPTION_HANDLERS = {
    CaseConflict: _conflict_handler,
    ValidationException: _validation_handler,
}
