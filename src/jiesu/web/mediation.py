"""The mediation part of a worker's case page: parties, consent, sessions and the agreement.

The forms call the mediation rooms, the code behind the mediation API, so the same people may do the same
things; a form is shown only when the room would accept it now (the caller manages the mediation, and
the case and the mediation are in the right state). Each form is one entry of ``FORMS``: its fields,
how each field's value is typed into the body, when it is shown and which room call applies it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from pydantic import BaseModel, ValidationError

from jiesu.accounts.security import Principal
from jiesu.case_record import CaseRecord
from jiesu.errors import Forbidden, NotFound
from jiesu.mediation import schemas as s
from jiesu.mediation.base import BEFORE_AGREEMENT, IN_MEDIATION
from jiesu.mediation.rooms import MediationRooms
from jiesu.web.forms import FormErrors
from jiesu.web.i18n import N_
from jiesu.web.messages import NOT_A_TIME, REQUIRED, Msg, from_pydantic

SIDES = {
    "applicant": N_("Applicant"),
    "respondent": N_("Respondent"),
    "third_party": N_("Third party"),
}
CONSENT = {
    "pending": N_("Not yet asked"),
    "given": N_("Agrees to mediation"),
    "refused": N_("Refuses mediation"),
    "withdrawn": N_("Withdrew consent"),
}
CHANNELS = {
    "in_person": N_("In person"),
    "phone": N_("By phone"),
    "written": N_("In writing"),
    "online": N_("Online"),
}
SIGN_METHODS = {"signature": N_("Signed on paper"), "oral": N_("Accepted orally")}
SESSION_STATES = {
    "scheduled": N_("Planned"),
    "postponed": N_("Postponed"),
    "held": N_("Held"),
}
MEDIATION_STATES = {
    "not_started": N_("Not started"),
    "in_progress": N_("In progress"),
    "agreement": N_("Agreement signed"),
    "reopened": N_("Reopened"),
}
AGREEMENT_STATES = {
    "draft": N_("Draft, not signed by everyone"),
    "frozen": N_("Signed by every party"),
    "superseded": N_("Replaced"),
}
MEDIATOR_KINDS = {
    "mediator": N_("A people's mediator (worker)"),
    "relative": N_("A relative"),
    "neighbour": N_("A neighbour"),
    "expert": N_("An expert"),
}
APPOINTERS = {"committee": N_("The mediation committee"), "parties": N_("The parties")}
CHECK_RESULTS = {
    "performed": N_("Carried out"),
    "partly": N_("Partly carried out"),
    "not_performed": N_("Not carried out"),
}
FOLLOW_UPS = {"reopen": N_("Reopen mediation"), "refer": N_("Refer the case on")}
REFER_TO = {
    "court": N_("Court"),
    "arbitration": N_("Arbitration"),
    "administrative": N_("An administrative authority"),
}
Choices = tuple[tuple[str, str], ...]
When = Callable[[datetime], str]


@dataclass(frozen=True)
class Field:
    """A form field as the page shows it, its choices filled in."""

    name: str
    label: str
    kind: str  # text | textarea | select | datetime | date | checks | flag
    required: bool = True
    choices: Choices = ()
    hint: str | None = None
    translate: bool = True  # the choices' texts are catalogue ids (not names)


@dataclass(frozen=True)
class MediationForm:
    name: str
    title: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Page:
    """What decides which forms are shown and what they offer: the mediation and the case now."""

    summary: s.MediationSummary
    case: CaseRecord
    when: When


# How a field's value goes into the body: text as typed, an id (a number), ids (ticked boxes), a flag
# (a ticked box), a time in the pages' time zone, or terms (one per line).
VALUE_OF_KIND = {"checks": "ids", "flag": "flag", "datetime": "time"}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    kind: str
    required: bool = True
    choices: Callable[[Page], Choices] | Choices = ()
    hint: str | None = None
    translate: bool = True
    value: str | None = None  # text | id | ids | flag | time | terms; by default from the kind

    @property
    def value_type(self) -> str:
        return self.value or VALUE_OF_KIND.get(self.kind, "text")

    def on(self, page: Page) -> Field:
        choices = self.choices(page) if callable(self.choices) else self.choices
        return Field(self.name, self.label, self.kind, self.required, choices, self.hint, self.translate)


# The room call that applies a form: (actor, case_id[, target id][, body]).
RoomCall = Callable[[MediationRooms], Callable[..., Awaitable[object]]]


@dataclass(frozen=True)
class Applied:
    """How a form is applied: the schema of its body (None: no body), when the page shows it, and the
    room call. ``target`` names the field that the API takes in its address (/parties/{id}/consent,
    /sessions/{id}/hold); on the page it is a form field, passed to the call before the body.
    """

    schema: type[BaseModel] | None
    shown: Callable[[Page], bool]
    call: RoomCall
    target: str | None = None


@dataclass(frozen=True)
class FormSpec:
    """One mediation form: its name, its title, how it is applied, and its fields."""

    name: str
    title: str
    applied: Applied
    fields: tuple[FieldSpec, ...]

    def on(self, page: Page) -> MediationForm:
        return MediationForm(self.name, self.title, tuple(field.on(page) for field in self.fields))


def _form(name: str, title: str, applied: Applied, *fields: FieldSpec) -> FormSpec:
    return FormSpec(name, title, applied, fields)


def _choices(codes: dict[str, str]) -> Choices:
    return tuple(codes.items())


def _parties(page: Page) -> Choices:
    return tuple((str(p.id), f"{p.name} ({p.relationship})") for p in page.summary.parties)


def _unsigned_parties(page: Page) -> Choices:
    unsigned = page.summary.agreement.unsigned_party_ids if page.summary.agreement else []
    return tuple(choice for choice in _parties(page) if int(choice[0]) in unsigned)


def _open_sessions(page: Page) -> Choices:
    return tuple(
        (str(row.id), f"{page.when(row.scheduled_at)}, {row.place}")
        for row in page.summary.sessions
        if row.status != "held"
    )


def _terms(page: Page) -> Choices:
    terms = page.summary.agreement.content.get("terms") if page.summary.agreement else None
    if not isinstance(terms, list):
        return ()
    return tuple(
        (str(index), f"{index + 1}. {term.get('text', '')}")
        for index, term in enumerate(terms)
        if isinstance(term, dict)
    )


# ---- when a form is shown: in the order a mediation goes --------------------------------------


def _before_agreement(page: Page) -> bool:
    return bool(page.case.state in BEFORE_AGREEMENT)


def _has_parties(page: Page) -> bool:
    return _before_agreement(page) and bool(page.summary.parties)


def _in_mediation(page: Page) -> bool:
    return bool(page.case.state in IN_MEDIATION)


def _may_start(page: Page) -> bool:
    return _in_mediation(page) and page.summary.may_start and bool(page.case.assignee)


def _running(page: Page) -> bool:
    """Started, every party consenting, and the mediator not objected to."""
    summary = page.summary
    going = summary.status in ("in_progress", "reopened") and not summary.blocking
    return _in_mediation(page) and going and not summary.needs_reassignment


def _may_extend(page: Page) -> bool:
    clock = page.summary.clock
    return _running(page) and clock is not None and clock.may_extend


def _has_open_sessions(page: Page) -> bool:
    return _running(page) and bool(_open_sessions(page))


def _not_frozen(page: Page) -> bool:
    agreement = page.summary.agreement
    return _running(page) and (agreement is None or agreement.status != "frozen")


def _to_sign(page: Page) -> bool:
    agreement = page.summary.agreement
    return (
        _running(page)
        and agreement is not None
        and agreement.status == "draft"
        and bool(agreement.unsigned_party_ids)
    )


def _frozen(page: Page) -> bool:
    """After every party signed: the judicial confirmation and the checks that the terms are kept."""
    agreement = page.summary.agreement
    return agreement is not None and agreement.status == "frozen"


def _confirmation_open(page: Page) -> bool:
    agreement = page.summary.agreement
    return _frozen(page) and agreement is not None and agreement.confirmation_applied_at is None


SESSION = FieldSpec("session_id", N_("Session"), "select", choices=_open_sessions, translate=False)
REASON = FieldSpec("reason", N_("Reason"), "textarea")
TERMS = FieldSpec(
    "terms", N_("What each party will do"), "textarea", hint=N_("One term per line."), value="terms"
)


def _party_checks(name: str, label: str, *, required: bool = True) -> FieldSpec:
    return FieldSpec(name, label, "checks", required=required, choices=_parties, translate=False)


FORM_SPECS: tuple[FormSpec, ...] = (
    _form(
        "party",
        N_("Add a party"),
        Applied(s.PartyCreate, _before_agreement, lambda rooms: rooms.parties.add_party),
        FieldSpec("side", N_("Side"), "select", choices=_choices(SIDES)),
        FieldSpec("name", N_("Name"), "text"),
        FieldSpec(
            "relationship",
            N_("Relationship to the case"),
            "text",
            hint=N_("For example: upstairs neighbour"),
        ),
        FieldSpec("phone", N_("Phone number"), "text", required=False),
        FieldSpec("address", N_("Address"), "text", required=False),
        FieldSpec("username", N_("User name, if the person has an account"), "text", required=False),
    ),
    _form(
        "consent",
        N_("Record a party's consent"),
        Applied(s.ConsentRecord, _has_parties, lambda rooms: rooms.parties.record_consent, "party_id"),
        FieldSpec("party_id", N_("Party"), "select", choices=_parties, translate=False, value="id"),
        FieldSpec(
            "status",
            N_("Answer"),
            "select",
            choices=_choices({k: v for k, v in CONSENT.items() if k != "pending"}),
        ),
        FieldSpec("channel", N_("How the answer was given"), "select", choices=_choices(CHANNELS)),
        FieldSpec("note", N_("Note"), "textarea", required=False),
    ),
    _form(
        "mediator",
        N_("Add a mediator or helper"),
        Applied(s.MediatorCreate, _in_mediation, lambda rooms: rooms.panel.add_mediator),
        FieldSpec("kind", N_("Who joins"), "select", choices=_choices(MEDIATOR_KINDS)),
        FieldSpec("username", N_("User name of the mediator (a worker)"), "text", required=False),
        FieldSpec("name", N_("Name of a relative, neighbour or expert"), "text", required=False),
        FieldSpec("appointed_by", N_("Chosen by"), "select", required=False, choices=_choices(APPOINTERS)),
        _party_checks(
            "consenting_party_ids",
            N_("Parties who agree (needed for helpers and for a mediator the parties chose)"),
            required=False,
        ),
    ),
    _form(
        "start",
        N_("Start mediation"),
        Applied(None, _may_start, lambda rooms: rooms.sessions.start),
    ),
    _form(
        "schedule",
        N_("Plan a mediation session"),
        Applied(s.SessionCreate, _running, lambda rooms: rooms.sessions.schedule),
        FieldSpec("scheduled_at", N_("Date and time"), "datetime"),
        FieldSpec("place", N_("Place"), "text"),
        _party_checks("attendee_party_ids", N_("Who is invited")),
        FieldSpec("public", N_("Open to the public"), "flag", required=False),
    ),
    _form(
        "extend",
        N_("Extend the mediation time"),
        Applied(s.ExtendClock, _may_extend, lambda rooms: rooms.sessions.extend),
        FieldSpec("until", N_("New mediation deadline"), "datetime"),
        REASON,
        _party_checks("consenting_party_ids", N_("Parties who agree")),
    ),
    _form(
        "hold",
        N_("Record a held session"),
        Applied(s.SessionHold, _has_open_sessions, lambda rooms: rooms.sessions.hold, "session_id"),
        SESSION,
        _party_checks("attended_party_ids", N_("Who came"), required=False),
        FieldSpec("notes", N_("What was discussed and agreed"), "textarea"),
        FieldSpec("held_at", N_("When it was held (empty: now)"), "datetime", required=False),
    ),
    _form(
        "postpone",
        N_("Postpone a session"),
        Applied(s.SessionPostpone, _has_open_sessions, lambda rooms: rooms.sessions.postpone, "session_id"),
        SESSION,
        FieldSpec("until", N_("New date and time"), "datetime"),
        REASON,
    ),
    _form(
        "agreement",
        N_("Write the mediation agreement"),
        Applied(s.AgreementWrite, _not_frozen, lambda rooms: rooms.agreements.write_agreement),
        FieldSpec("facts", N_("Facts"), "textarea"),
        FieldSpec("issues", N_("Points in dispute"), "textarea"),
        FieldSpec("responsibilities", N_("Responsibilities"), "textarea"),
        TERMS,
        FieldSpec("performance_manner", N_("How it is carried out"), "text"),
        FieldSpec("performance_deadline", N_("Carried out by (date)"), "date"),
    ),
    _form(
        "sign",
        N_("Record a signature"),
        Applied(s.SignatureCreate, _to_sign, lambda rooms: rooms.agreements.sign),
        FieldSpec("party_id", N_("Party"), "select", choices=_unsigned_parties, translate=False, value="id"),
        FieldSpec("method", N_("How"), "select", choices=_choices(SIGN_METHODS)),
    ),
    _form(
        "confirmation",
        N_("Record the application for judicial confirmation"),
        Applied(s.ConfirmationCreate, _confirmation_open, lambda rooms: rooms.follow_up.record_confirmation),
        FieldSpec("court", N_("Court"), "text"),
        FieldSpec("applied_at", N_("Applied on (empty: now)"), "datetime", required=False),
    ),
    _form(
        "check",
        N_("Record a check that the agreement is kept"),
        Applied(s.CheckCreate, _frozen, lambda rooms: rooms.follow_up.check_performance),
        FieldSpec(
            "term_index",
            N_("Term (empty: the whole agreement)"),
            "select",
            required=False,
            choices=_terms,
            translate=False,
            value="id",
        ),
        FieldSpec("result", N_("Result"), "select", choices=_choices(CHECK_RESULTS)),
        FieldSpec("note", N_("Note"), "textarea"),
        FieldSpec(
            "follow_up", N_("If not carried out"), "select", required=False, choices=_choices(FOLLOW_UPS)
        ),
        FieldSpec("refer_to", N_("Refer to"), "select", required=False, choices=_choices(REFER_TO)),
    ),
)
FORMS: dict[str, FormSpec] = {spec.name: spec for spec in FORM_SPECS}


def available_forms(summary: s.MediationSummary, case: CaseRecord, when: When) -> list[MediationForm]:
    """The forms the rooms accept now, in the order a mediation goes."""
    page = Page(summary, case, when)
    return [spec.on(page) for spec in FORM_SPECS if spec.applied.shown(page)]


async def mediation_view(
    rooms: MediationRooms, actor: Principal, case: CaseRecord, when: When
) -> dict[str, Any] | None:
    """The summary and the forms for the people who manage the mediation; None for everyone else."""
    try:
        viewer = await rooms.overview.viewer(actor, case.inserted_id)
    except (Forbidden, NotFound):
        return None
    if not viewer.manager:
        return None
    summary = await rooms.overview.summary(actor, case.inserted_id)
    names = {p.id: p.name for p in summary.parties}
    return {"summary": summary, "forms": available_forms(summary, case, when), "names": names}


def agreement_values(summary: s.MediationSummary | None) -> dict[str, str]:
    """The current draft, to revise it rather than write it again."""
    if summary is None or summary.agreement is None or summary.agreement.status == "superseded":
        return {}
    content = summary.agreement.content
    values = {name: str(content.get(name) or "") for name in s.AgreementWrite.model_fields if name != "terms"}
    terms = content.get("terms")
    lines = terms if isinstance(terms, list) else []
    values["terms"] = "\n".join(str(term.get("text", "")) for term in lines if isinstance(term, dict))
    return values


# ---- reading a sent form --------------------------------------------------------------------


def _getall(form: Any, name: str) -> list[str]:
    """Every ticked box of a group; none ticked sends nothing at all."""
    values = form.getall(name, []) if hasattr(form, "getall") else [form.get(name)]
    return [str(v).strip() for v in values if isinstance(v, str) and v.strip()]


def typed_mediation(name: str, form: Any) -> dict[str, Any]:
    """What the person typed or ticked, to show it again."""
    typed: dict[str, Any] = {}
    for field in FORMS[name].fields:
        if field.value_type == "ids":
            typed[field.name] = _getall(form, field.name)
        else:
            value = form.get(field.name)
            typed[field.name] = value.strip() if isinstance(value, str) else ""
    return typed


def _time(raw: str, tz: tzinfo) -> datetime:
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def _body_value(value_type: str, raw: Any, tz: tzinfo) -> Any:
    """The field's value in the body; ValueError for a time that is not one."""
    if value_type == "ids":
        return [int(v) for v in raw if v.isdigit()]
    if value_type == "flag":
        return raw == "yes"
    if value_type == "terms":
        return [{"text": line.strip()} for line in raw.splitlines() if line.strip()]
    if value_type == "id":
        return int(raw) if raw.isdigit() else raw
    if value_type == "time":
        return _time(raw, tz)
    return raw


def parse_mediation(name: str, typed: dict[str, Any], tz: tzinfo) -> tuple[dict[str, int], BaseModel | None]:
    """The ids the room takes beside the body (party, session), and the validated body."""
    spec = FORMS[name]
    errors: dict[str, str | Msg] = {}
    targets: dict[str, int] = {}
    body: dict[str, Any] = {}
    for field in spec.fields:
        raw = typed[field.name]
        if field.name == spec.applied.target:
            if not raw:
                errors[field.name] = REQUIRED
            else:
                targets[field.name] = int(raw) if raw.isdigit() else 0
        elif not raw and field.value_type not in ("ids", "flag", "terms"):
            continue  # missing: the schema names what is required
        else:
            try:
                body[field.name] = _body_value(field.value_type, raw, tz)
            except ValueError:
                errors[field.name] = NOT_A_TIME
    model = None
    schema = spec.applied.schema
    if schema is not None:
        try:
            model = schema.model_validate(body)
        except ValidationError as exc:
            for err in reversed(exc.errors()):
                field_name = str(err["loc"][0]) if err["loc"] else "body"
                if field_name not in errors:
                    errors[field_name] = from_pydantic(err, field_name)
    if errors:
        raise FormErrors(errors)
    return targets, model


async def apply_mediation(
    rooms: MediationRooms, actor: Principal, case_id: int, name: str, typed: dict[str, Any], tz: tzinfo
) -> None:
    targets, data = parse_mediation(name, typed, tz)
    body = () if data is None else (data,)
    await FORMS[name].applied.call(rooms)(actor, case_id, *targets.values(), *body)
