from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from jiesu.accounts.schemas import Code, Phone
from jiesu.routing.schemas import Latitude, Longitude

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Contact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[Text, StringConstraints(max_length=100)]
    phone: Phone


class CaseCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["complaint", "dispute", "request", "suggestion"]
    category: Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None = None
    title: Annotated[Text, StringConstraints(max_length=200)]
    description: Annotated[Text, StringConstraints(max_length=10_000)]
    address: Annotated[Text, StringConstraints(max_length=300)]
    jurisdiction_code: Code | None = None
    priority: Literal["normal", "urgent"] | None = None
    contact: Contact | None = None
    # Where the resident is: finds the grid by its boundary when no jurisdiction is given.
    lat: Latitude | None = None
    lon: Longitude | None = None


class ContactOut(BaseModel):
    name: str
    phone: str


class Deadlines(BaseModel):
    response_due: datetime | None
    resolution_due: datetime | None
    feedback_due: datetime | None
    current: datetime | None


class ExtensionRequestOut(BaseModel):
    """A deadline extension asked for by the assignee, waiting for approve_extension or deny_extension."""

    until: datetime
    requested_by: str
    requested_at: datetime


class MediationBrief(BaseModel):
    """What a queue item shows of the mediation: the clocks that run.

    Declared here, beside the queue item that carries it, so cases imports nothing of mediation; the
    mediation package fills it (``Overview.briefs``)."""

    status: str
    clock_due: datetime | None
    clock_overdue: bool
    next_session_at: datetime | None
    agreement_status: str | None
    confirmation_due: datetime | None
    confirmation_days_left: int | None
    next_check_on: date | None
    needs_reassignment: bool


class CaseOut(BaseModel):
    id: int
    tracking_no: str
    kind: str
    category: str | None
    title: str
    description: str
    address: str
    jurisdiction_code: str | None
    priority: str
    complexity: str
    state: str
    version: int
    assignee: str | None
    channel: str
    contact: ContactOut
    received_at: datetime
    updated_at: datetime
    deadlines: Deadlines
    overdue: bool
    responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    resolution_summary: str | None
    reopen_count: int
    extension_count: int
    extension_request: ExtensionRequestOut | None = None
    escalation_level: str | None
    merged_into: int | None
    filer_resolved: bool | None
    satisfaction: int | None
    allowed_actions: list[str]
    mediation: MediationBrief | None = None  # filled in the queue: the mediation clocks and countdowns


class FiledCaseOut(CaseOut):
    access_code: str | None = None
    routing: dict[str, object] | None = None


class CasePage(BaseModel):
    items: list[CaseOut]
    next_cursor: str | None


class TrackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tracking_no: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]
    access_code: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)]


class TrackResponse(BaseModel):
    case_id: int
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class EventOut(BaseModel):
    """One event of the timeline; a filer reads it as the case page tells it (``queries.filer_view``):
    without the actor and with only the fields the page shows them."""

    seq: int
    action: str
    actor: str | None
    actor_role: str
    from_state: str | None
    to_state: str
    fields: dict[str, object]
    created_at: datetime
    hash: str
