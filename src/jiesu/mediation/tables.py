"""Mediation records. Personal data (names, phones) lives here only, never in events or outbox rows."""

from piccolo.columns import Boolean, Date, Integer, Serial, Text, Timestamptz, Varchar
from piccolo.table import Table


class Mediation(Table, tablename="jiesu_mediation"):
    """One row per case once mediation has started: its clock."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    case_id = Integer(unique=True)
    status = Varchar(length=16, default="in_progress")  # in_progress | agreement | reopened
    started_at = Timestamptz()
    clock_due = Timestamptz()
    extension_count = Integer(default=0)
    round_no = Integer(default=1)  # 2, 3, … after mediation is reopened


class MediationParty(Table, tablename="jiesu_mediation_party"):
    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker
    case_id = Integer(index=True)
    side = Varchar(length=16)  # applicant | respondent | third_party
    name = Varchar(length=100)
    phone = Varchar(length=32, null=True, default=None)
    address = Varchar(length=300, null=True, default=None)
    relationship = Varchar(length=200)
    username = Varchar(length=64, null=True, default=None, index=True)  # a jiesu resident
    consent = Varchar(length=16, default="pending")  # pending | given | refused | withdrawn
    consent_at = Timestamptz(null=True, default=None)
    consent_channel = Varchar(length=16, null=True, default=None)
    created_at = Timestamptz()


class Mediator(Table, tablename="jiesu_mediator"):
    """The panel: people's mediators (workers), and relatives, neighbours or experts invited to help."""

    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker

    case_id = Integer(index=True)
    kind = Varchar(length=16)  # mediator | relative | neighbour | expert
    username = Varchar(length=64, null=True, default=None)
    name = Varchar(length=100)
    appointed_by = Varchar(length=16)  # committee | parties
    status = Varchar(length=16, default="active")  # active | recused
    consenting_party_ids = Text(default="[]")  # JSON list
    created_at = Timestamptz()


class Recusal(Table, tablename="jiesu_mediation_recusal"):
    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker
    case_id = Integer(index=True)
    party_id = Integer()
    mediator_id = Integer(null=True, default=None)
    username = Varchar(length=64, null=True, default=None)
    reason = Text()
    recorded_by = Varchar(length=64)
    at = Timestamptz()


class MediationSession(Table, tablename="jiesu_mediation_session"):
    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker
    case_id = Integer(index=True)
    status = Varchar(length=16, default="scheduled")  # scheduled | postponed | held
    scheduled_at = Timestamptz()
    place = Varchar(length=300)
    public = Boolean(default=False)
    attendee_party_ids = Text(default="[]")  # JSON list
    attendee_mediator_ids = Text(default="[]")  # JSON list
    postponements = Integer(default=0)
    held_at = Timestamptz(null=True, default=None)
    attended_party_ids = Text(null=True, default=None)  # JSON list
    notes = Text(null=True, default=None)
    created_at = Timestamptz()


class Agreement(Table, tablename="jiesu_mediation_agreement"):
    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker
    case_id = Integer(index=True)
    number = Integer(default=1)  # 1, 2, … when mediation is reopened after non-performance
    status = Varchar(length=16, default="draft")  # draft | frozen | superseded
    content = Text()  # canonical JSON; its SHA-256 is what the parties sign
    content_hash = Varchar(length=64)
    revision = Integer(default=1)
    created_at = Timestamptz()
    updated_at = Timestamptz()
    frozen_at = Timestamptz(null=True, default=None)
    confirmation_applied_at = Timestamptz(null=True, default=None)
    confirmation_court = Varchar(length=200, null=True, default=None)


class Signature(Table, tablename="jiesu_mediation_signature"):
    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker
    agreement_id = Integer(index=True)
    party_id = Integer()
    method = Varchar(length=16)  # signature | oral
    content_hash = Varchar(length=64)  # the revision this party accepted
    recorded_by = Varchar(length=64)
    at = Timestamptz()


class PerformanceCheck(Table, tablename="jiesu_mediation_check"):
    id: Serial  # the implicit primary key Piccolo adds, declared for the type checker
    agreement_id = Integer(index=True)
    case_id = Integer(index=True)
    term_index = Integer(null=True, default=None)
    due_on = Date(null=True, default=None)
    result = Varchar(length=16)  # performed | partly | not_performed
    follow_up = Varchar(length=16, null=True, default=None)  # reopen | refer
    note = Text()
    checked_by = Varchar(length=64)
    at = Timestamptz()
