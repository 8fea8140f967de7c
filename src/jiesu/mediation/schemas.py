"""Request and response bodies of the mediation API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from jiesu.accounts.schemas import Phone, Username
from jiesu.cases.schemas import MediationBrief

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Short = Annotated[Text, StringConstraints(max_length=200)]
Long = Annotated[Text, StringConstraints(max_length=4000)]
Name = Annotated[Text, StringConstraints(max_length=100)]
Id = Annotated[int, Field(ge=1, strict=True)]

Side = Literal["applicant", "respondent", "third_party"]
Consent = Literal["given", "refused", "withdrawn"]
Channel = Literal["in_person", "phone", "written", "online"]
MediatorKind = Literal["mediator", "relative", "neighbour", "expert"]
CheckResult = Literal["performed", "partly", "not_performed"]
ReferTo = Literal["court", "arbitration", "administrative"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PartyCreate(_Input):
    side: Side
    name: Name
    phone: Phone | None = None
    address: Annotated[Text, StringConstraints(max_length=300)] | None = None
    relationship: Short
    username: Username | None = None


class ConsentRecord(_Input):
    status: Consent
    channel: Channel
    note: Long | None = None


class MediatorCreate(_Input):
    kind: MediatorKind
    username: Username | None = None
    name: Name | None = None
    appointed_by: Literal["committee", "parties"] = "committee"
    consenting_party_ids: list[Id] = []


class RecusalCreate(_Input):
    party_id: Id
    reason: Long
    mediator_id: Id | None = None
    username: Username | None = None


class SessionCreate(_Input):
    scheduled_at: AwareDatetime
    place: Short
    public: bool = False
    attendee_party_ids: list[Id] = Field(min_length=1)
    attendee_mediator_ids: list[Id] = []


class SessionHold(_Input):
    attended_party_ids: list[Id]
    notes: Long
    held_at: AwareDatetime | None = None


class SessionPostpone(_Input):
    until: AwareDatetime
    reason: Long


class ExtendClock(_Input):
    until: AwareDatetime
    reason: Long
    consenting_party_ids: list[Id] = Field(min_length=1)


class Term(_Input):
    text: Long
    obligor_party_id: Id | None = None
    due_on: date | None = None


class AgreementWrite(_Input):
    facts: Long
    issues: Long
    responsibilities: Long
    terms: list[Term] = Field(min_length=1, max_length=50)
    performance_manner: Long
    performance_deadline: date


class SignatureCreate(_Input):
    party_id: Id
    method: Literal["signature", "oral"]


class ConfirmationCreate(_Input):
    court: Short
    applied_at: AwareDatetime | None = None


class CheckCreate(_Input):
    term_index: Annotated[int, Field(ge=0, strict=True)] | None = None
    result: CheckResult
    note: Long
    follow_up: Literal["reopen", "refer"] | None = None
    refer_to: ReferTo | None = None


class ContactView(BaseModel):
    phone: str | None
    address: str | None


class PartyOut(BaseModel):
    id: int
    side: str
    name: str
    relationship: str
    username: str | None
    consent: str
    consent_at: datetime | None
    consent_channel: str | None
    contact: ContactView | None  # None: not shown to this caller


class MediatorOut(BaseModel):
    id: int
    kind: str
    username: str | None
    name: str
    appointed_by: str
    status: str
    consenting_party_ids: list[int]
    created_at: datetime


class RecusalOut(BaseModel):
    id: int
    party_id: int
    mediator_id: int | None
    username: str | None
    reason: str
    at: datetime


class SessionOut(BaseModel):
    id: int
    status: str
    scheduled_at: datetime
    place: str
    public: bool
    attendee_party_ids: list[int]
    attendee_mediator_ids: list[int]
    postponements: int
    held_at: datetime | None
    attended_party_ids: list[int] | None
    notes: str | None  # the mediator's record: staff only


class SignatureOut(BaseModel):
    party_id: int
    method: str
    at: datetime
    current: bool  # signed this revision (an edit makes older signatures stale)


class CheckOut(BaseModel):
    id: int
    term_index: int | None
    due_on: date | None
    result: str
    follow_up: str | None
    note: str
    at: datetime


class Countdown(BaseModel):
    due: datetime
    days_left: int
    expired: bool


class AgreementOut(BaseModel):
    id: int
    number: int
    status: str
    revision: int
    content: dict[str, object]
    content_hash: str
    created_at: datetime
    updated_at: datetime
    frozen_at: datetime | None
    signatures: list[SignatureOut]
    unsigned_party_ids: list[int]
    judicial_confirmation: Countdown | None
    confirmation_applied_at: datetime | None
    confirmation_court: str | None
    checks: list[CheckOut]
    next_check_on: date | None


class MediationClock(BaseModel):
    started_at: datetime
    due: datetime
    days_left: int
    overdue: bool
    extension_count: int
    may_extend: bool


class MediationSummary(BaseModel):
    case_id: int
    case_state: str
    status: str  # not_started | in_progress | agreement | reopened
    may_start: bool
    blocking: list[str]
    needs_reassignment: bool
    clock: MediationClock | None
    parties: list[PartyOut]
    mediators: list[MediatorOut]
    recusals: list[RecusalOut]
    sessions: list[SessionOut]
    agreement: AgreementOut | None
    brief: MediationBrief


class FollowUp(BaseModel):
    case_id: int
    tracking_no: str
    case_state: str
    brief: MediationBrief
