"""From HTML form fields to the bodies CaseService validates, and from its errors back to fields."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from pydantic import ValidationError

from jiesu.cases.schemas import CaseCreate
from jiesu.errors import InvalidInput
from jiesu.web.messages import (
    BAD_FORMAT,
    BAD_PHONE,
    INVALID_CHOICE,
    NOT_A_NUMBER,
    NOT_A_TIME,
    OUT_OF_RANGE,
    REQUIRED,
    TOO_BIG,
    TOO_LONG,
    TOO_SMALL,
    Msg,
    from_pydantic,
    from_service,
)
from jiesu.workflow.spec import FieldSpec

Errors = dict[str, str | Msg]
FILING_FIELDS = (
    "kind",
    "category",
    "title",
    "description",
    "address",
    "jurisdiction_code",
    "contact_name",
    "contact_phone",
)
FILING_REQUIRED = ("kind", "title", "description", "address")


class FormErrors(Exception):
    """Errors by field name: catalogue ids, or Msg (translated when the page is rendered)."""

    def __init__(self, errors: Errors) -> None:
        super().__init__(errors)
        self.errors = errors


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def typed_action(fields: dict[str, FieldSpec], form: Any) -> dict[str, str]:
    """What the person typed into an action form, to show it again beside the errors."""
    return {name: _text(form, name) for name in fields}


def action_body(fields: dict[str, FieldSpec], form: Any, tz: tzinfo) -> tuple[dict[str, Any], dict[str, str]]:
    """The typed body for CaseService.act, and what the person typed (to show it again).

    The workflow's own limits are checked here too, so each kind of mistake gets its own message.
    """
    typed = typed_action(fields, form)
    body: dict[str, Any] = {}
    errors: Errors = {}
    for name, spec in fields.items():
        raw = typed[name]
        if not raw:
            if spec.required:
                errors[name] = REQUIRED
            continue
        try:
            body[name] = _convert(spec, raw, tz)
        except ValueError as exc:
            errors[name] = str(exc)
            continue
        problem = _out_of_limits(spec, body[name])
        if problem is not None:
            errors[name] = problem
    if errors:
        raise FormErrors(errors)
    return body, typed


def _out_of_limits(spec: FieldSpec, value: Any) -> Msg | str | None:
    if spec.type == "choice" and spec.choices and value not in spec.choices:
        return INVALID_CHOICE
    if isinstance(value, str) and len(value) > spec.max_length:
        return Msg(TOO_LONG, {"max": spec.max_length})
    if spec.type == "int" and isinstance(value, int):
        low, high = spec.min, spec.max
        if (low is not None and value < low) or (high is not None and value > high):
            if low is not None and high is not None:
                return Msg(OUT_OF_RANGE, {"min": low, "max": high})
            return Msg(TOO_SMALL, {"min": low}) if low is not None else Msg(TOO_BIG, {"max": high})
    return None


def _convert(spec: FieldSpec, raw: str, tz: tzinfo) -> Any:
    if spec.type in ("int", "case"):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(NOT_A_NUMBER) from None
    if spec.type == "bool":
        return raw == "yes"
    if spec.type == "datetime":
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(NOT_A_TIME) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=tz)
    return raw


def typed_filing(form: Any) -> dict[str, str]:
    return {name: _text(form, name) for name in FILING_FIELDS}


def filing_body(typed: dict[str, str], needs_contact: bool) -> CaseCreate:
    """Every mistake at once: the missing fields, and what the schema says of the others."""
    missing: Errors = {name: REQUIRED for name in FILING_REQUIRED if not typed[name]}
    if needs_contact:
        missing.update({name: REQUIRED for name in ("contact_name", "contact_phone") if not typed[name]})
    data: dict[str, Any] = {
        "kind": typed["kind"],
        "category": typed["category"] or None,
        "title": typed["title"],
        "description": typed["description"],
        "address": typed["address"],
        "jurisdiction_code": typed["jurisdiction_code"] or None,
    }
    if typed["contact_name"] or typed["contact_phone"]:
        data["contact"] = {"name": typed["contact_name"], "phone": typed["contact_phone"]}
    try:
        body = CaseCreate.model_validate(data)
    except ValidationError as exc:
        errors: Errors = {}
        for err in reversed(exc.errors()):
            name = _form_name(err["loc"])
            errors[name] = from_pydantic(err, name)
        raise FormErrors({**errors, **missing}) from exc
    if missing:
        raise FormErrors(missing)
    return body


def _form_name(loc: tuple[Any, ...]) -> str:
    names = [str(part) for part in loc]
    if names and names[0] == "contact":
        return "contact_" + (names[1] if len(names) > 1 else "phone")
    return names[0] if names else "body"


def service_errors(exc: InvalidInput) -> Errors:
    """A field_error (or the service's pydantic error) as {field: message}."""
    errors: Errors = {}
    for problem in exc.extra:
        if isinstance(problem, dict):
            key = str(problem.get("key") or "body")
            key = {"contact": "contact_phone"}.get(key, key)
            message = from_service(str(problem.get("message", "")))
            if message.id == BAD_FORMAT and "phone" in key:
                message = message._replace(id=BAD_PHONE)
            errors.setdefault(key, message)
    return errors or {"body": from_service(str(exc.detail))}
