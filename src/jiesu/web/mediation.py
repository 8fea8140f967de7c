"""The mediation part of a worker's case page: parties, consent, sessions and the agreement.

The forms call MediationService, the code behind the mediation API, so the same people may do the same
things; a form is shown only when the service would accept it now (the caller manages the mediation,
and the case and the mediation are in the right state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from litestar.exceptions import NotFoundException, PermissionDeniedException
from pydantic import BaseModel, ValidationError

from jiesu.accounts.security import Principal
from jiesu.mediation import schemas as s
from jiesu.mediation.service import MediationService
from jiesu.web.forms import FormErrors
from jiesu.web.i18n import N_
from jiesu.web.messages import NOT_A_TIME, REQUIRED, Msg, from_pydantic
from jiesu.workflow import STATES

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
TITLES = {
    "party": N_("Add a party"),
    "consent": N_("Record a party's consent"),
    "start": N_("Start mediation"),
    "schedule": N_("Plan a mediation session"),
    "hold": N_("Record a held session"),
    "postpone": N_("Postpone a session"),
    "agreement": N_("Write the mediation agreement"),
    "sign": N_("Record a signature"),
    "mediator": N_("Add a mediator or helper"),
    "extend": N_("Extend the mediation time"),
    "confirmation": N_("Record the application for judicial confirmation"),
    "check": N_("Record a check that the agreement is kept"),
}


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    kind: str  # text | textarea | select | datetime | date | checks | flag
    required: bool = True
    choices: tuple[tuple[str, str], ...] = ()
    hint: str | None = None
    translate: bool = True  # the choices' texts are catalogue ids (not names)


@dataclass(frozen=True)
class MediationForm:
    name: str
    title: str
    fields: tuple[Field, ...]


def _choices(codes: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(codes.items())


def _parties(summary: s.MediationSummary, ids: list[int] | None = None) -> tuple[tuple[str, str], ...]:
    return tuple(
        (str(p.id), f"{p.name} ({p.relationship})") for p in summary.parties if ids is None or p.id in ids
    )


def _sessions(summary: s.MediationSummary, when: Any) -> tuple[tuple[str, str], ...]:
    return tuple(
        (str(row.id), f"{when(row.scheduled_at)}, {row.place}")
        for row in summary.sessions
        if row.status != "held"
    )


def _form(name: str, *fields: Field) -> MediationForm:
    return MediationForm(name, TITLES[name], fields)


def available_forms(summary: s.MediationSummary, case: dict[str, Any], when: Any) -> list[MediationForm]:
    """The forms the service accepts now, in the order a mediation goes."""
    mediating = case["state"] in (STATES.triage, STATES.mediation)
    forms = _mediating_forms(summary, case, when) if mediating else []
    return forms + _follow_up_forms(summary)


def _mediating_forms(summary: s.MediationSummary, case: dict[str, Any], when: Any) -> list[MediationForm]:
    state = case["state"]
    forms: list[MediationForm] = []
    forms.append(
        _form(
            "party",
            Field("side", N_("Side"), "select", choices=_choices(SIDES)),
            Field("name", N_("Name"), "text"),
            Field(
                "relationship",
                N_("Relationship to the case"),
                "text",
                hint=N_("For example: upstairs neighbour"),
            ),
            Field("phone", N_("Phone number"), "text", required=False),
            Field("address", N_("Address"), "text", required=False),
            Field("username", N_("User name, if the person has an account"), "text", required=False),
        )
    )
    if summary.parties:
        forms.append(
            _form(
                "consent",
                Field("party_id", N_("Party"), "select", choices=_parties(summary), translate=False),
                Field(
                    "status",
                    N_("Answer"),
                    "select",
                    choices=_choices({k: v for k, v in CONSENT.items() if k != "pending"}),
                ),
                Field("channel", N_("How the answer was given"), "select", choices=_choices(CHANNELS)),
                Field("note", N_("Note"), "textarea", required=False),
            )
        )
    if state != STATES.mediation:
        return forms
    forms.append(
        _form(
            "mediator",
            Field("kind", N_("Who joins"), "select", choices=_choices(MEDIATOR_KINDS)),
            Field("username", N_("User name of the mediator (a worker)"), "text", required=False),
            Field("name", N_("Name of a relative, neighbour or expert"), "text", required=False),
            Field("appointed_by", N_("Chosen by"), "select", required=False, choices=_choices(APPOINTERS)),
            Field(
                "consenting_party_ids",
                N_("Parties who agree (needed for helpers and for a mediator the parties chose)"),
                "checks",
                required=False,
                choices=_parties(summary),
                translate=False,
            ),
        )
    )
    if summary.may_start and case["assignee"]:
        forms.append(_form("start"))
    running = summary.status in ("in_progress", "reopened") and not summary.blocking
    if not running or summary.needs_reassignment:
        return forms
    forms.append(
        _form(
            "schedule",
            Field("scheduled_at", N_("Date and time"), "datetime"),
            Field("place", N_("Place"), "text"),
            Field(
                "attendee_party_ids",
                N_("Who is invited"),
                "checks",
                choices=_parties(summary),
                translate=False,
            ),
            Field("public", N_("Open to the public"), "flag", required=False),
        )
    )
    if summary.clock is not None and summary.clock.may_extend:
        forms.append(
            _form(
                "extend",
                Field("until", N_("New mediation deadline"), "datetime"),
                Field("reason", N_("Reason"), "textarea"),
                Field(
                    "consenting_party_ids",
                    N_("Parties who agree"),
                    "checks",
                    choices=_parties(summary),
                    translate=False,
                ),
            )
        )
    open_sessions = _sessions(summary, when)
    if open_sessions:
        forms.append(
            _form(
                "hold",
                Field("session_id", N_("Session"), "select", choices=open_sessions, translate=False),
                Field(
                    "attended_party_ids",
                    N_("Who came"),
                    "checks",
                    required=False,
                    choices=_parties(summary),
                    translate=False,
                ),
                Field("notes", N_("What was discussed and agreed"), "textarea"),
                Field("held_at", N_("When it was held (empty: now)"), "datetime", required=False),
            )
        )
        forms.append(
            _form(
                "postpone",
                Field("session_id", N_("Session"), "select", choices=open_sessions, translate=False),
                Field("until", N_("New date and time"), "datetime"),
                Field("reason", N_("Reason"), "textarea"),
            )
        )
    agreement = summary.agreement
    if agreement is None or agreement.status != "frozen":
        forms.append(
            _form(
                "agreement",
                Field("facts", N_("Facts"), "textarea"),
                Field("issues", N_("Points in dispute"), "textarea"),
                Field("responsibilities", N_("Responsibilities"), "textarea"),
                Field("terms", N_("What each party will do"), "textarea", hint=N_("One term per line.")),
                Field("performance_manner", N_("How it is carried out"), "text"),
                Field("performance_deadline", N_("Carried out by (date)"), "date"),
            )
        )
    if agreement is not None and agreement.status == "draft" and agreement.unsigned_party_ids:
        forms.append(
            _form(
                "sign",
                Field(
                    "party_id",
                    N_("Party"),
                    "select",
                    choices=_parties(summary, agreement.unsigned_party_ids),
                    translate=False,
                ),
                Field("method", N_("How"), "select", choices=_choices(SIGN_METHODS)),
            )
        )
    return forms


def _follow_up_forms(summary: s.MediationSummary) -> list[MediationForm]:
    """After every party signed: the judicial confirmation and the checks that the terms are kept."""
    agreement = summary.agreement
    if agreement is None or agreement.status != "frozen":
        return []
    forms = []
    if agreement.confirmation_applied_at is None:
        forms.append(
            _form(
                "confirmation",
                Field("court", N_("Court"), "text"),
                Field("applied_at", N_("Applied on (empty: now)"), "datetime", required=False),
            )
        )
    terms = agreement.content.get("terms") or []
    term_choices = tuple(
        (str(index), f"{index + 1}. {term.get('text', '')}")
        for index, term in enumerate(terms)
        if isinstance(term, dict)
    )
    forms.append(
        _form(
            "check",
            Field(
                "term_index",
                N_("Term (empty: the whole agreement)"),
                "select",
                required=False,
                choices=term_choices,
                translate=False,
            ),
            Field("result", N_("Result"), "select", choices=_choices(CHECK_RESULTS)),
            Field("note", N_("Note"), "textarea"),
            Field(
                "follow_up", N_("If not carried out"), "select", required=False, choices=_choices(FOLLOW_UPS)
            ),
            Field("refer_to", N_("Refer to"), "select", required=False, choices=_choices(REFER_TO)),
        )
    )
    return forms


async def mediation_view(
    service: MediationService, actor: Principal, case: dict[str, Any], when: Any
) -> dict[str, Any] | None:
    """The summary and the forms for the people who manage the mediation; None for everyone else."""
    try:
        viewer = await service.viewer(actor, case["id"])
    except (PermissionDeniedException, NotFoundException):
        return None
    if not viewer.manager:
        return None
    summary = await service.summary(actor, case["id"])
    names = {p.id: p.name for p in summary.parties}
    return {"summary": summary, "forms": available_forms(summary, case, when), "names": names}


def agreement_values(summary: s.MediationSummary | None) -> dict[str, str]:
    """The current draft, to revise it rather than write it again."""
    if summary is None or summary.agreement is None or summary.agreement.status == "superseded":
        return {}
    content = summary.agreement.content
    values = {name: str(content.get(name) or "") for name in s.AgreementWrite.model_fields if name != "terms"}
    terms = content.get("terms") or []
    values["terms"] = "\n".join(str(term.get("text", "")) for term in terms if isinstance(term, dict))
    return values


# ---- reading a sent form --------------------------------------------------------------------

FORM_FIELDS: dict[str, tuple[str, ...]] = {
    "party": ("side", "name", "relationship", "phone", "address", "username"),
    "consent": ("party_id", "status", "channel", "note"),
    "start": (),
    "schedule": ("scheduled_at", "place", "attendee_party_ids", "public"),
    "hold": ("session_id", "attended_party_ids", "notes", "held_at"),
    "postpone": ("session_id", "until", "reason"),
    "agreement": (
        "facts",
        "issues",
        "responsibilities",
        "terms",
        "performance_manner",
        "performance_deadline",
    ),
    "sign": ("party_id", "method"),
    "mediator": ("kind", "username", "name", "appointed_by", "consenting_party_ids"),
    "extend": ("until", "reason", "consenting_party_ids"),
    "confirmation": ("court", "applied_at"),
    "check": ("term_index", "result", "note", "follow_up", "refer_to"),
}
LISTS = ("attendee_party_ids", "attended_party_ids", "consenting_party_ids")
TIMES = ("scheduled_at", "held_at", "until", "applied_at")
# The id the API takes in its address (/parties/{id}/consent, /sessions/{id}/hold); here a form field.
TARGETS = {"consent": "party_id", "hold": "session_id", "postpone": "session_id"}
SCHEMAS: dict[str, type[BaseModel]] = {
    "party": s.PartyCreate,
    "consent": s.ConsentRecord,
    "schedule": s.SessionCreate,
    "hold": s.SessionHold,
    "postpone": s.SessionPostpone,
    "agreement": s.AgreementWrite,
    "sign": s.SignatureCreate,
    "mediator": s.MediatorCreate,
    "extend": s.ExtendClock,
    "confirmation": s.ConfirmationCreate,
    "check": s.CheckCreate,
}


def _getall(form: Any, name: str) -> list[str]:
    """Every ticked box of a group; none ticked sends nothing at all."""
    values = form.getall(name, []) if hasattr(form, "getall") else [form.get(name)]
    return [str(v).strip() for v in values if isinstance(v, str) and v.strip()]


def typed_mediation(name: str, form: Any) -> dict[str, Any]:
    """What the person typed or ticked, to show it again."""
    typed: dict[str, Any] = {}
    for field in FORM_FIELDS[name]:
        if field in LISTS:
            typed[field] = _getall(form, field)
        else:
            value = form.get(field)
            typed[field] = value.strip() if isinstance(value, str) else ""
    return typed


def _time(raw: str, tz: tzinfo) -> datetime:
    moment = datetime.fromisoformat(raw)
    return moment if moment.tzinfo else moment.replace(tzinfo=tz)


def parse_mediation(name: str, typed: dict[str, Any], tz: tzinfo) -> tuple[dict[str, int], BaseModel | None]:
    """The ids the service takes beside the body (party, session), and the validated body."""
    errors: dict[str, str | Msg] = {}
    targets: dict[str, int] = {}
    body: dict[str, Any] = {}
    for field, raw in typed.items():
        if field == TARGETS.get(name):
            if not raw:
                errors[field] = REQUIRED
            else:
                targets[field] = int(raw) if raw.isdigit() else 0
        elif field in LISTS:
            body[field] = [int(v) for v in raw if v.isdigit()]
        elif field == "public":
            body[field] = raw == "yes"
        elif field == "terms":
            body[field] = [{"text": line.strip()} for line in raw.splitlines() if line.strip()]
        elif not raw:
            continue  # missing: the schema names what is required
        elif field.endswith("_id") or field == "term_index":
            body[field] = int(raw) if raw.isdigit() else raw
        elif field in TIMES:
            try:
                body[field] = _time(raw, tz)
            except ValueError:
                errors[field] = NOT_A_TIME
        else:
            body[field] = raw
    schema = SCHEMAS.get(name)
    model = None
    if schema is not None:
        try:
            model = schema.model_validate(body)
        except ValidationError as exc:
            for err in reversed(exc.errors()):
                field = str(err["loc"][0]) if err["loc"] else "body"
                if field not in errors:
                    errors[field] = from_pydantic(err, field)
    if errors:
        raise FormErrors(errors)
    return targets, model


async def apply_mediation(
    service: MediationService, actor: Principal, case_id: int, name: str, typed: dict[str, Any], tz: tzinfo
) -> None:
    targets, data = parse_mediation(name, typed, tz)
    if name == "party":
        await service.add_party(actor, case_id, data)  # type: ignore[arg-type]
    elif name == "consent":
        await service.record_consent(actor, case_id, targets["party_id"], data)  # type: ignore[arg-type]
    elif name == "start":
        await service.start(actor, case_id)
    elif name == "schedule":
        await service.schedule(actor, case_id, data)  # type: ignore[arg-type]
    elif name == "hold":
        await service.hold(actor, case_id, targets["session_id"], data)  # type: ignore[arg-type]
    elif name == "postpone":
        await service.postpone(actor, case_id, targets["session_id"], data)  # type: ignore[arg-type]
    elif name == "agreement":
        await service.write_agreement(actor, case_id, data)  # type: ignore[arg-type]
    elif name == "sign":
        await service.sign(actor, case_id, data)  # type: ignore[arg-type]
    elif name == "mediator":
        await service.add_mediator(actor, case_id, data)  # type: ignore[arg-type]
    elif name == "extend":
        await service.extend(actor, case_id, data)  # type: ignore[arg-type]
    elif name == "confirmation":
        await service.record_confirmation(actor, case_id, data)  # type: ignore[arg-type]
    elif name == "check":
        await service.check_performance(actor, case_id, data)  # type: ignore[arg-type]
