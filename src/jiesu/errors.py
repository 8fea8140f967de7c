"""The project's own exceptions: services raise these, and the adapters (``jiesu.http_errors``) answer them
in HTTP. Each carries a ``detail`` that says what is wrong and, for input, which field."""

from __future__ import annotations

from typing import Any


class JiesuError(Exception):
    """Something a caller asked for cannot be done; ``detail`` says why."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidInput(JiesuError):
    """The input is wrong; ``extra`` names the fields, like the framework's own validation errors."""

    def __init__(self, detail: str, extra: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.extra: list[dict[str, Any]] = extra or []


class NotAuthenticated(JiesuError):
    """The caller must say who they are."""


class Forbidden(JiesuError):
    """The caller is known but may not do this."""


class NotFound(JiesuError):
    """There is no such thing, or the caller may not see it."""


class Conflict(JiesuError):
    """The request clashes with the current state of what it changes."""


class AlreadyExists(Conflict):
    """The thing to create exists already."""


class CaseConflict(Conflict):
    """The action is not allowed in the case's state, or the version is stale."""

    def __init__(self, detail: str, *, state: str, version: int, allowed_actions: list[str]) -> None:
        super().__init__(detail)
        self.state = state
        self.version = version
        self.allowed_actions = allowed_actions


class Unprocessable(JiesuError):
    """Well-formed but unusable, e.g. an Idempotency-Key reused with another body."""


class TooManyRequests(JiesuError):
    """Asked too often; ``retry_after`` says in how many seconds to try again."""

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class InsufficientStorage(JiesuError):
    """The server has too little free disk space to store the write (507)."""


# What a check raises to refuse an action (the batched intake then tries another worker).
REFUSALS: tuple[type[JiesuError], ...] = (InvalidInput, Forbidden, CaseConflict)


def field_error(field: str, message: str) -> InvalidInput:
    """An error naming one field, in the same shape as the framework's own validation errors."""
    return InvalidInput(
        detail=f"{field}: {message}",
        extra=[{"key": field, "message": message, "source": "body"}],
    )


def not_found(detail: str) -> NotFound:
    return NotFound(detail)


def forbidden(detail: str) -> Forbidden:
    return Forbidden(detail)
