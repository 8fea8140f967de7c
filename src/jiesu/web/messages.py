"""Form error messages in the page's language.

A form error is a catalogue id (``str``) or a ``Msg`` with parameters. Errors that come from pydantic
are named by their kind (required, too long, out of range, not a choice…); the service's ``field_error``
texts are English sentences, matched here to catalogue ids. ``render`` translates every error once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from jiesu.web.i18n import N_

REQUIRED = N_("Please fill in this field.")
TOO_LONG = N_("Please use at most %(max)s characters.")
TOO_SHORT = N_("Please use at least %(min)s characters.")
NOT_A_NUMBER = N_("Please enter a whole number.")
OUT_OF_RANGE = N_("Please enter a number from %(min)s to %(max)s.")
TOO_SMALL = N_("Please enter a number of at least %(min)s.")
TOO_BIG = N_("Please enter a number of at most %(max)s.")
INVALID_CHOICE = N_("Please choose one of the offered options.")
NOT_A_TIME = N_("Please enter a date and time.")
NOT_A_DATE = N_("Please enter a date like 2026-01-31.")
BAD_FORMAT = N_("This does not look right. Please check what you typed.")
BAD_PHONE = N_("Please enter a phone number: digits, at least 5.")
CHOOSE_ONE = N_("Please choose at least one.")
IN_FUTURE = N_("Please choose a time in the future.")
NOT_IN_FUTURE = N_("This time cannot be in the future.")
CHECK_THIS = N_("This cannot be accepted. Please check it.")

# pydantic's error kinds → catalogue ids (the parameters come from the error's ``ctx``).
PYDANTIC = {
    "missing": REQUIRED,
    "string_too_long": TOO_LONG,
    "too_long": TOO_LONG,
    "int_parsing": NOT_A_NUMBER,
    "int_type": NOT_A_NUMBER,
    "int_from_float": NOT_A_NUMBER,
    "greater_than_equal": TOO_SMALL,
    "greater_than": TOO_SMALL,
    "less_than_equal": TOO_BIG,
    "less_than": TOO_BIG,
    "literal_error": INVALID_CHOICE,
    "enum": INVALID_CHOICE,
    "datetime_parsing": NOT_A_TIME,
    "datetime_from_date_parsing": NOT_A_TIME,
    "timezone_aware": NOT_A_TIME,
    "date_parsing": NOT_A_DATE,
    "date_from_datetime_parsing": NOT_A_DATE,
    "string_pattern_mismatch": BAD_FORMAT,
    "bool_parsing": INVALID_CHOICE,
}

# The service's own sentences (jiesu.errors.field_error) → catalogue ids; the first match wins.
SERVICE = [
    (r"at most (?P<max>\d+) characters", TOO_LONG),
    (r"at least 1 character|field required|missing", REQUIRED),
    (r"name and phone are needed", N_("Please give a name and a phone number.")),
    (r"unknown category", INVALID_CHOICE),
    (r"needs a category", N_("Please choose a category.")),
    (r"needs a jurisdiction", N_("Please choose a community or street.")),
    (r"is not an active worker", N_("This is not the user name of an active worker.")),
    (r"does not work in this case's jurisdiction", N_("This worker does not work where the case is.")),
    (r"already assigned to this worker", N_("The case is with this worker already.")),
    (r"give a level", N_("Please choose a level or a department.")),
    (r"must be later than the current", N_("Please choose a time after the current deadline.")),
    (r"further than the workflow allows", N_("This is later than the rules allow.")),
    (r"already in this jurisdiction", N_("The case is there already.")),
    (r"no other case with this id", N_("No case with this number that you can see.")),
    (r"cannot merge into a closed case", N_("That case is closed.")),
    (r"not a registered resident", N_("No resident has this user name.")),
    (r"is a party to the case already", N_("This resident is a party already.")),
    (
        r"no party .* on this case|not a party to this agreement|no such party",
        N_("Not a party to this case."),
    ),
    (r"every applicant and respondent must agree", N_("Every applicant and respondent must agree.")),
    (r"was not invited to this session", N_("This party was not invited to this session.")),
    (r"must be in the future", IN_FUTURE),
    (r"cannot be in the future", NOT_IN_FUTURE),
    (r"later than the performance deadline", N_("This is after the deadline for carrying it out.")),
    (r"needs a mediation agreement signed", N_("This needs an agreement signed by every party.")),
    (r"say where the case is referred", N_("Please say where the case is referred.")),
    (r"objected to this mediator", N_("A party objected to this mediator.")),
    (r"may extend by at most (?P<days>\d+) days", N_("You may extend by at most %(days)s days.")),
    (r"should match pattern", BAD_FORMAT),
]

# Refusals (409) of a mediation form: the case or the mediation is not ready for it.
CONFLICTS = [
    (r"consent of every party", N_("Every applicant and respondent must consent first.")),
    (r"has started already", N_("Mediation has started already.")),
    (r"has not started", N_("Mediation has not started yet.")),
    (r"no assigned mediator", N_("The case needs an assigned worker first.")),
    (r"held already", N_("This session was held already.")),
    (r"frozen", N_("Every party has signed: the agreement cannot change any more.")),
    (r"no agreement to sign", N_("There is no agreement to sign yet.")),
    (r"objected to the assigned mediator", N_("A party objected to the mediator: reassign the case first.")),
]
NOT_NOW = N_("This cannot be done now. The page shows what is possible.")


class Msg(NamedTuple):
    """A catalogue id with its parameters, and the English text it stands for (shown when unknown)."""

    id: str | None
    params: Mapping[str, Any] = {}
    original: str = ""


def from_pydantic(error: Mapping[str, Any], field: str = "") -> Msg:
    kind = str(error.get("type", ""))
    ctx = dict(error.get("ctx") or {})
    params = {"max": ctx.get("max_length", ctx.get("le", ctx.get("lt", ""))), **ctx}
    params.setdefault("min", ctx.get("min_length", ctx.get("ge", ctx.get("gt", ""))))
    if kind == "too_short":
        message: str | None = CHOOSE_ONE
    elif kind == "string_too_short":
        message = REQUIRED if int(ctx.get("min_length", 1)) <= 1 else TOO_SHORT
    elif kind == "string_pattern_mismatch" and "phone" in field:
        message = BAD_PHONE
    else:
        message = PYDANTIC.get(kind)
    return Msg(message, params, str(error.get("msg", "")))


def from_service(text: str, table: list[tuple[str, str]] | None = None) -> Msg:
    for pattern, message in SERVICE if table is None else table:
        found = re.search(pattern, text, re.IGNORECASE)
        if found:
            return Msg(message, found.groupdict(), text)
    return Msg(None, {}, text)


def from_conflict(text: str) -> Msg:
    message = from_service(text, CONFLICTS)
    return message if message.id else Msg(NOT_NOW, {}, text)


def localize(message: str | Msg, gettext: Callable[[str], str], locale: str) -> str:
    """The message in the page's language; an English sentence with no catalogue id only on English pages."""
    if not isinstance(message, Msg):
        return gettext(message)
    if message.id is None:
        return message.original if locale == "en" and message.original else gettext(CHECK_THIS)
    text = gettext(message.id)
    return text % dict(message.params) if message.params and "%(" in text else text
