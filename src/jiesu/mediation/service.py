"""MediationService: parties, consent, mediators, recusals, sessions, agreements and their follow-up.

Every change runs in one write transaction that first locks the case row (a no-op UPDATE: a row lock on
PostgreSQL, the IMMEDIATE transaction on SQLite), then writes its rows and one audit event on the case.
Changes of the case's own state or outcome (refer, reopen_mediation, record_performance) go through
CaseService in the same transaction, which writes their own event.
Events and outbox rows carry ids and dates only, never a party's name or phone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from litestar.exceptions import NotFoundException, PermissionDeniedException

from jiesu.accounts.security import Principal
from jiesu.accounts.tables import User
from jiesu.audit.chain import append_event, canonical_json
from jiesu.cases.effects import Decide, unconditionally
from jiesu.cases.service import CaseService
from jiesu.cases.tables import Case
from jiesu.db import write_transaction
from jiesu.errors import CaseConflict, field_error
from jiesu.mediation import schemas as s
from jiesu.mediation.config import MediationClocks
from jiesu.mediation.integrity import FREEZE_ACTION, content_hash
from jiesu.mediation.tables import (
    Agreement,
    Mediation,
    MediationParty,
    MediationSession,
    Mediator,
    PerformanceCheck,
    Recusal,
    Signature,
)
from jiesu.notify.outbox import enqueue
from jiesu.notify.tables import OutboxMessage
from jiesu.privacy import mask_name, mask_phone

PRINCIPAL_SIDES = ("applicant", "respondent")
AGREEMENT_OUTCOMES = ("agreement_performed", "agreement_pending")


def _days_left(due: datetime, now: datetime) -> int:
    return max(0, math.ceil((due - now) / timedelta(days=1)))


@dataclass
class Viewer:
    """Who is asking, and in which capacity: a manager of the mediation, or a party reading it."""

    actor: Principal
    case: dict[str, Any]
    manager: bool
    full_contacts: bool
    party_ids: set[int] = field(default_factory=set)
    sides: set[str] = field(default_factory=set)


class MediationService:
    def __init__(self, cases: CaseService, clocks: MediationClocks) -> None:
        self.cases = cases
        self.clocks = clocks

    def now(self) -> datetime:
        return self.cases.clock()

    # ---- who may see and do what ------------------------------------------------------------

    async def viewer(self, actor: Principal, case_id: int, *, lock: bool = False) -> Viewer:
        if lock:
            await Case.update({Case.version: Case.version}).where(Case.id == case_id)
        case = await Case.select().where(Case.id == case_id).first()
        if case is None:
            raise NotFoundException(f"no case {case_id}")
        relations = self.cases.relations(actor, case)
        visible = self.cases.can_see(actor, case)
        assignee = "assignee" in relations
        manager = visible and (assignee or actor.role in ("dispatcher", "supervisor"))
        viewer = Viewer(actor, case, manager, full_contacts=assignee or actor.role == "dispatcher")
        if actor.role == "resident":
            rows = await MediationParty.select(MediationParty.id, MediationParty.side).where(
                (MediationParty.case_id == case_id) & (MediationParty.username == actor.username)
            )
            viewer.party_ids = {row["id"] for row in rows}
            viewer.sides = {row["side"] for row in rows}
        if "filer" in relations and not viewer.sides:
            viewer.sides = {"applicant"}
        if manager or viewer.sides:
            return viewer
        if visible:
            raise PermissionDeniedException("mediation records are for the case's mediator and supervisors")
        raise NotFoundException(f"no case {case_id}")

    async def _manage(self, actor: Principal, case_id: int, *, states: tuple[str, ...]) -> Viewer:
        viewer = await self.viewer(actor, case_id, lock=True)
        if not viewer.manager:
            raise PermissionDeniedException("only the case's mediator, dispatchers and supervisors manage it")
        if actor.username in await self._recused_usernames(case_id):
            raise PermissionDeniedException("a party objected to you as mediator: the case is reassigned")
        self._require_state(viewer, states)
        return viewer

    def _require_state(self, viewer: Viewer, states: tuple[str, ...]) -> None:
        case = viewer.case
        if case["state"] not in states:
            raise self._conflict(viewer, f"not possible while the case is in state {case['state']}")

    def _conflict(self, viewer: Viewer, detail: str) -> CaseConflict:
        return self._refusal(viewer.actor, viewer.case, detail)

    def _refusal(self, actor: Principal, case: dict[str, Any], detail: str) -> CaseConflict:
        """409 with the case's state, version and the actions the caller may take now."""
        return CaseConflict(
            detail,
            state=case["state"],
            version=case["version"],
            allowed_actions=self.cases.allowed_actions(actor, case),
        )

    async def _recused_usernames(self, case_id: int) -> set[str]:
        rows = await Recusal.select(Recusal.username).where(
            (Recusal.case_id == case_id) & Recusal.username.is_not_null()
        )
        return {row["username"] for row in rows}

    async def _event(self, viewer: Viewer, action: str, fields: dict[str, Any], now: datetime) -> None:
        state = viewer.case["state"]
        await append_event(
            case_id=viewer.case["id"],
            actor=viewer.actor.username,
            actor_role=viewer.actor.role,
            action=action,
            from_state=state,
            to_state=state,
            fields=fields,
            at=now,
        )

    # ---- parties and consent ----------------------------------------------------------------

    async def _parties(self, case_id: int) -> list[dict[str, Any]]:
        return (
            await MediationParty.select().where(MediationParty.case_id == case_id).order_by(MediationParty.id)
        )

    async def _party(self, case_id: int, party_id: int, field_name: str = "party_id") -> dict[str, Any]:
        row = (
            await MediationParty.select()
            .where((MediationParty.case_id == case_id) & (MediationParty.id == party_id))
            .first()
        )
        if row is None:
            raise field_error(field_name, f"no party {party_id} on this case")
        return row

    async def add_party(self, actor: Principal, case_id: int, data: s.PartyCreate) -> dict[str, Any]:
        now = self.now()
        async with write_transaction():
            viewer = await self._manage(actor, case_id, states=("triage", "mediation"))
            if data.username is not None:
                user = await User.select(User.role).where(User.username == data.username).first()
                if user is None or user["role"] != "resident":
                    raise field_error("username", "not a registered resident")
                linked = await MediationParty.exists().where(
                    (MediationParty.case_id == case_id) & (MediationParty.username == data.username)
                )
                if linked:
                    raise field_error("username", "this resident is a party to the case already")
            row = MediationParty(
                case_id=case_id,
                side=data.side,
                name=data.name,
                phone=data.phone,
                address=data.address,
                relationship=data.relationship,
                username=data.username,
                consent="pending",
                created_at=now,
            )
            await MediationParty.insert(row)
            await self._event(viewer, "party_add", {"party_id": row.id, "side": data.side}, now)
            return row.to_dict()

    async def record_consent(
        self, actor: Principal, case_id: int, party_id: int, data: s.ConsentRecord
    ) -> dict[str, Any]:
        """A party's consent to mediation, recorded by the mediator or given online by the party."""
        now = self.now()
        async with write_transaction():
            viewer = await self.viewer(actor, case_id, lock=True)
            if not viewer.manager and party_id not in viewer.party_ids:
                raise PermissionDeniedException("a party records only their own consent")
            self._require_state(viewer, ("triage", "mediation"))
            party = await self._party(case_id, party_id)
            channel = data.channel if viewer.manager else "online"
            await MediationParty.update(
                {
                    MediationParty.consent: data.status,
                    MediationParty.consent_at: now,
                    MediationParty.consent_channel: channel,
                }
            ).where(MediationParty.id == party_id)
            await self._event(
                viewer,
                "party_consent",
                {
                    "party_id": party_id,
                    "side": party["side"],
                    "consent": data.status,
                    "channel": channel,
                    "note": data.note,
                },
                now,
            )
            return {**party, "consent": data.status, "consent_at": now, "consent_channel": channel}

    @staticmethod
    def blocking(parties: list[dict[str, Any]]) -> list[str]:
        """Why mediation cannot go on: it is voluntary for every applicant and respondent."""
        problems = [
            f"the case has no {side}"
            for side in PRINCIPAL_SIDES
            if not any(p["side"] == side for p in parties)
        ]
        problems += [
            f"{p['side']} #{p['id']} has {'not yet consented' if p['consent'] == 'pending' else p['consent']}"
            for p in parties
            if p["side"] in PRINCIPAL_SIDES and p["consent"] != "given"
        ]
        return problems

    async def _require_consent(self, viewer: Viewer) -> list[dict[str, Any]]:
        parties = await self._parties(viewer.case["id"])
        problems = self.blocking(parties)
        if problems:
            raise self._conflict(viewer, "mediation needs the consent of every party: " + "; ".join(problems))
        return parties

    def _require_all_consenting(self, parties: list[dict[str, Any]], ids: list[int], field_name: str) -> None:
        unknown = set(ids) - {p["id"] for p in parties}
        if unknown:
            raise field_error(field_name, f"no party {sorted(unknown)[0]} on this case")
        missing = [p["id"] for p in parties if p["side"] in PRINCIPAL_SIDES and p["id"] not in ids]
        if missing:
            raise field_error(field_name, f"every applicant and respondent must agree; missing {missing}")

    # ---- the mediation clock ----------------------------------------------------------------

    async def _mediation(self, case_id: int) -> dict[str, Any] | None:
        return await Mediation.select().where(Mediation.case_id == case_id).first()

    async def _active(self, viewer: Viewer) -> dict[str, Any]:
        """The running mediation, with every principal party's consent and a mediator not recused."""
        mediation = await self._mediation(viewer.case["id"])
        if mediation is None:
            raise self._conflict(viewer, "mediation has not started")
        if viewer.case["assignee"] in await self._recused_usernames(viewer.case["id"]):
            raise self._conflict(viewer, "a party objected to the assigned mediator: reassign the case first")
        return mediation

    async def start(self, actor: Principal, case_id: int) -> None:
        now = self.now()
        async with write_transaction():
            viewer = await self._manage(actor, case_id, states=("mediation",))
            if await self._mediation(case_id) is not None:
                raise self._conflict(viewer, "mediation has started already")
            if viewer.case["assignee"] is None:
                raise self._conflict(viewer, "the case has no assigned mediator")
            await self._require_consent(viewer)
            due = now + self.clocks.clock
            await Mediation.insert(
                Mediation(case_id=case_id, started_at=now, clock_due=due, status="in_progress")
            )
            await self._event(viewer, "mediation_start", {"clock_due": due}, now)

    async def extend(self, actor: Principal, case_id: int, data: s.ExtendClock) -> None:
        now = self.now()
        async with write_transaction():
            viewer = await self._manage(actor, case_id, states=("mediation",))
            mediation = await self._active(viewer)
            if mediation["extension_count"] > 0:
                raise self._conflict(viewer, "the mediation clock was extended once already")
            parties = await self._require_consent(viewer)
            self._require_all_consenting(parties, data.consenting_party_ids, "consenting_party_ids")
            if data.until <= mediation["clock_due"]:
                raise field_error("until", "must be later than the current mediation deadline")
            if data.until > mediation["clock_due"] + self.clocks.extension_max:
                raise field_error("until", f"may extend by at most {self.clocks.extension_max.days} days")
            await Mediation.update({Mediation.clock_due: data.until, Mediation.extension_count: 1}).where(
                Mediation.id == mediation["id"]
            )
            await self._event(
                viewer,
                "mediation_extend",
                {
                    "previous_due": mediation["clock_due"],
                    "until": data.until,
                    "reason": data.reason,
                    "consenting_party_ids": sorted(data.consenting_party_ids),
                },
                now,
            )

    # ---- mediators and recusal --------------------------------------------------------------

    async def add_mediator(self, actor: Principal, case_id: int, data: s.MediatorCreate) -> dict[str, Any]:
        now = self.now()
        async with write_transaction():
            viewer = await self._manage(actor, case_id, states=("mediation",))
            parties = await self._parties(case_id)
            if data.kind != "mediator" or data.appointed_by == "parties":
                self._require_all_consenting(parties, data.consenting_party_ids, "consenting_party_ids")
            name = data.name
            if data.kind == "mediator":
                if data.username is None:
                    raise field_error("username", "a people's mediator is a jiesu worker: give the username")
                user = (
                    await User.select(User.role, User.active, User.display_name)
                    .where(User.username == data.username)
                    .first()
                )
                if user is None or user["role"] != "worker" or not user["active"]:
                    raise field_error("username", f"{data.username!r} is not an active worker")
                if data.username in await self._recused_usernames(case_id):
                    raise field_error("username", "a party objected to this mediator on this case")
                taken = await Mediator.exists().where(
                    (Mediator.case_id == case_id)
                    & (Mediator.username == data.username)
                    & (Mediator.status == "active")
                )
                if taken:
                    raise field_error("username", "already on this case's panel")
                name = name or user["display_name"]
            if not name:
                raise field_error("name", "give the name of the person joining")
            row = Mediator(
                case_id=case_id,
                kind=data.kind,
                username=data.username,
                name=name,
                appointed_by=data.appointed_by,
                status="active",
                consenting_party_ids=json.dumps(sorted(data.consenting_party_ids)),
                created_at=now,
            )
            await Mediator.insert(row)
            await self._event(
                viewer,
                "mediator_add",
                {
                    "mediator_id": row.id,
                    "kind": data.kind,
                    "username": data.username,
                    "appointed_by": data.appointed_by,
                    "consenting_party_ids": sorted(data.consenting_party_ids),
                },
                now,
            )
            if data.username:
                await enqueue(
                    topic="mediation.mediator_added",
                    case_id=case_id,
                    recipient=data.username,
                    payload={"case_id": case_id, "mediator_id": row.id},
                    at=now,
                )
            return row.to_dict()

    async def recuse(self, actor: Principal, case_id: int, data: s.RecusalCreate) -> dict[str, Any]:
        """A party objects to a mediator: recorded, the mediator leaves, the case must be reassigned."""
        if (data.mediator_id is None) == (data.username is None):
            raise field_error("mediator_id", "name the mediator by mediator_id or by username (one of them)")
        now = self.now()
        async with write_transaction():
            viewer = await self.viewer(actor, case_id, lock=True)
            if not viewer.manager and data.party_id not in viewer.party_ids:
                raise PermissionDeniedException("a party records only their own objection")
            self._require_state(viewer, ("mediation",))
            await self._party(case_id, data.party_id)
            username = data.username
            panel = Mediator.case_id == case_id
            if data.mediator_id is not None:
                row = await Mediator.select().where(panel & (Mediator.id == data.mediator_id)).first()
                if row is None or row["status"] != "active":
                    raise field_error("mediator_id", "no active mediator with this id on this case")
                username = row["username"]
                target = Mediator.id == data.mediator_id
            else:
                on_panel = await Mediator.exists().where(
                    panel & (Mediator.username == username) & (Mediator.status == "active")
                )
                if username != viewer.case["assignee"] and not on_panel:
                    raise field_error("username", "not a mediator of this case")
                target = Mediator.username == username
            await Mediator.update({Mediator.status: "recused"}).where(panel & target)
            row = Recusal(
                case_id=case_id,
                party_id=data.party_id,
                mediator_id=data.mediator_id,
                username=username,
                reason=data.reason,
                recorded_by=actor.username,
                at=now,
            )
            await Recusal.insert(row)
            reassign = username is not None and username == viewer.case["assignee"]
            await self._event(
                viewer,
                "mediator_recusal",
                {
                    "party_id": data.party_id,
                    "mediator_id": data.mediator_id,
                    "username": username,
                    "reason": data.reason,
                    "needs_reassignment": reassign,
                },
                now,
            )
            if reassign:
                await enqueue(
                    topic="mediation.reassignment_needed",
                    case_id=case_id,
                    recipient=None,  # the dispatchers of the case's jurisdiction
                    payload={"case_id": case_id, "tracking_no": viewer.case["tracking_no"]},
                    at=now,
                )
            return row.to_dict()

    # ---- sessions ---------------------------------------------------------------------------

    async def _session(self, viewer: Viewer, session_id: int) -> dict[str, Any]:
        row = (
            await MediationSession.select()
            .where((MediationSession.case_id == viewer.case["id"]) & (MediationSession.id == session_id))
            .first()
        )
        if row is None:
            raise NotFoundException(f"no session {session_id} on this case")
        return row

    async def _check_attendees(self, case_id: int, data: s.SessionCreate) -> None:
        parties = {p["id"] for p in await self._parties(case_id)}
        for party_id in data.attendee_party_ids:
            if party_id not in parties:
                raise field_error("attendee_party_ids", f"no party {party_id} on this case")
        active = {
            row["id"]
            for row in await Mediator.select(Mediator.id).where(
                (Mediator.case_id == case_id) & (Mediator.status == "active")
            )
        }
        for mediator_id in data.attendee_mediator_ids:
            if mediator_id not in active:
                raise field_error("attendee_mediator_ids", f"no active mediator {mediator_id} on this case")

    async def _remind(self, viewer: Viewer, session: dict[str, Any], topic: str, now: datetime) -> None:
        """Tell every attendee now, and queue a reminder before the session (cancelled on postponement)."""
        case_id = viewer.case["id"]
        party_ids = json.loads(session["attendee_party_ids"])
        parties = {p["id"]: p for p in await self._parties(case_id)}
        mediator_ids = json.loads(session["attendee_mediator_ids"])
        mediators = await Mediator.select(Mediator.username).where(Mediator.id.is_in(mediator_ids or [0]))
        recipients = [parties[pid]["username"] or f"case:{case_id}:party:{pid}" for pid in party_ids]
        recipients += [m["username"] for m in mediators if m["username"]]
        if viewer.case["assignee"]:
            recipients.append(viewer.case["assignee"])
        payload = {"case_id": case_id, "session_id": session["id"], "scheduled_at": session["scheduled_at"]}
        remind_at = max(now, session["scheduled_at"] - self.clocks.session_reminder)
        for recipient in dict.fromkeys(recipients):
            await enqueue(topic=topic, case_id=case_id, recipient=recipient, payload=payload, at=now)
            await OutboxMessage.insert(
                OutboxMessage(
                    case_id=case_id,
                    topic="mediation.session_reminder",
                    recipient=recipient,
                    payload=json.dumps(payload, default=str),
                    status="pending",
                    next_attempt_at=remind_at,
                    created_at=now,
                )
            )

    async def _cancel_reminders(self, case_id: int, session_id: int) -> None:
        pending = await OutboxMessage.select(OutboxMessage.id, OutboxMessage.payload).where(
            (OutboxMessage.case_id == case_id)
            & (OutboxMessage.topic == "mediation.session_reminder")
            & (OutboxMessage.status == "pending")
        )
        stale = [row["id"] for row in pending if json.loads(row["payload"]).get("session_id") == session_id]
        if stale:
            await OutboxMessage.update({OutboxMessage.status: "cancelled"}).where(
                OutboxMessage.id.is_in(stale)
            )

    async def schedule(self, actor: Principal, case_id: int, data: s.SessionCreate) -> dict[str, Any]:
        now = self.now()
        async with write_transaction():
            viewer = await self._manage(actor, case_id, states=("mediation",))
            await self._active(viewer)
            await self._require_consent(viewer)
            if data.scheduled_at <= now:
                raise field_error("scheduled_at", "must be in the future")
            await self._check_attendees(case_id, data)
            row = MediationSession(
                case_id=case_id,
                status="scheduled",
                scheduled_at=data.scheduled_at,
                place=data.place,
                public=data.public,
                attendee_party_ids=json.dumps(sorted(set(data.attendee_party_ids))),
                attendee_mediator_ids=json.dumps(sorted(set(data.attendee_mediator_ids))),
                created_at=now,
            )
            await MediationSession.insert(row)
            session = row.to_dict()
            await self._event(
                viewer,
                "session_schedule",
                {
                    "session_id": row.id,
                    "scheduled_at": data.scheduled_at,
                    "public": data.public,
                    "attendee_party_ids": json.loads(row.attendee_party_ids),
                    "attendee_mediator_ids": json.loads(row.attendee_mediator_ids),
                },
                now,
            )
            await self._remind(viewer, session, "mediation.session_scheduled", now)
            return session

    async def _session_not_yet_held(
        self, actor: Principal, case_id: int, session_id: int
    ) -> tuple[Any, dict[str, Any]]:
        """The managed case in mediation and one of its sessions that was not held yet."""
        viewer = await self._manage(actor, case_id, states=("mediation",))
        await self._active(viewer)
        session = await self._session(viewer, session_id)
        if session["status"] == "held":
            raise self._conflict(viewer, "the session was held already")
        return viewer, session

    async def postpone(
        self, actor: Principal, case_id: int, session_id: int, data: s.SessionPostpone
    ) -> dict[str, Any]:
        now = self.now()
        async with write_transaction():
            viewer, session = await self._session_not_yet_held(actor, case_id, session_id)
            if data.until <= now:
                raise field_error("until", "must be in the future")
            await MediationSession.update(
                {
                    MediationSession.status: "postponed",
                    MediationSession.scheduled_at: data.until,
                    MediationSession.postponements: session["postponements"] + 1,
                }
            ).where(MediationSession.id == session_id)
            await self._event(
                viewer,
                "session_postpone",
                {
                    "session_id": session_id,
                    "from": session["scheduled_at"],
                    "until": data.until,
                    "reason": data.reason,
                },
                now,
            )
            updated = {**session, "status": "postponed", "scheduled_at": data.until}
            updated["postponements"] = session["postponements"] + 1
            await self._cancel_reminders(case_id, session_id)
            await self._remind(viewer, updated, "mediation.session_postponed", now)
            return updated

    async def hold(
        self, actor: Principal, case_id: int, session_id: int, data: s.SessionHold
    ) -> dict[str, Any]:
        now = self.now()
        async with write_transaction():
            viewer, session = await self._session_not_yet_held(actor, case_id, session_id)
            invited = set(json.loads(session["attendee_party_ids"]))
            for party_id in data.attended_party_ids:
                if party_id not in invited:
                    raise field_error(
                        "attended_party_ids", f"party {party_id} was not invited to this session"
                    )
            held_at = data.held_at or now
            if held_at > now:
                raise field_error("held_at", "cannot be in the future")
            attended = json.dumps(sorted(set(data.attended_party_ids)))
            await MediationSession.update(
                {
                    MediationSession.status: "held",
                    MediationSession.held_at: held_at,
                    MediationSession.attended_party_ids: attended,
                    MediationSession.notes: data.notes,
                }
            ).where(MediationSession.id == session_id)
            await self._event(
                viewer,
                "session_hold",
                {"session_id": session_id, "held_at": held_at, "attended_party_ids": json.loads(attended)},
                now,
            )
            await self._cancel_reminders(case_id, session_id)
            return {
                **session,
                "status": "held",
                "held_at": held_at,
                "attended_party_ids": attended,
                "notes": data.notes,
            }

    # ---- the agreement ----------------------------------------------------------------------

    async def current_agreement(self, case_id: int) -> dict[str, Any] | None:
        row = (
            await Agreement.select()
            .where(Agreement.case_id == case_id)
            .order_by(Agreement.id, ascending=False)
            .first()
        )
        if row is not None:
            row["content"] = json.loads(row["content"])
        return row

    async def write_agreement(self, actor: Principal, case_id: int, data: s.AgreementWrite) -> dict[str, Any]:
        """Draft or revise the agreement; signatures on an earlier revision no longer count."""
        now = self.now()
        async with write_transaction():
            viewer = await self._manage(actor, case_id, states=("mediation",))
            await self._active(viewer)
            parties = await self._require_consent(viewer)
            current = await self.current_agreement(case_id)
            if current is not None and current["status"] == "frozen":
                raise self._conflict(viewer, "the agreement is signed by every party and frozen")
            names = {p["id"] for p in parties}
            for index, term in enumerate(data.terms):
                if term.obligor_party_id is not None and term.obligor_party_id not in names:
                    raise field_error(f"terms.{index}.obligor_party_id", "no such party on this case")
                if term.due_on is not None and term.due_on > data.performance_deadline:
                    raise field_error(f"terms.{index}.due_on", "later than the performance deadline")
            content = {
                "case": {"id": case_id, "tracking_no": viewer.case["tracking_no"]},
                "parties": [
                    {"id": p["id"], "side": p["side"], "name": p["name"], "relationship": p["relationship"]}
                    for p in parties
                ],
                **data.model_dump(mode="json"),
            }
            text = canonical_json(content)
            digest = content_hash(text)
            if current is None or current["status"] == "superseded":
                number = 1 if current is None else current["number"] + 1
                row = Agreement(
                    case_id=case_id,
                    number=number,
                    status="draft",
                    content=text,
                    content_hash=digest,
                    revision=1,
                    created_at=now,
                    updated_at=now,
                )
                await Agreement.insert(row)
                agreement_id, revision = row.id, 1
            else:
                agreement_id, revision = current["id"], current["revision"] + 1
                await Agreement.update(
                    {
                        Agreement.content: text,
                        Agreement.content_hash: digest,
                        Agreement.revision: revision,
                        Agreement.updated_at: now,
                    }
                ).where(Agreement.id == agreement_id)
            await self._event(
                viewer,
                "agreement_draft",
                {"agreement_id": agreement_id, "revision": revision, "sha256": digest},
                now,
            )
            return await self.current_agreement(case_id)  # type: ignore[return-value]

    async def sign(self, actor: Principal, case_id: int, data: s.SignatureCreate) -> dict[str, Any]:
        """A party's signature or oral acceptance; the last one freezes the agreement."""
        now = self.now()
        async with write_transaction():
            viewer = await self._manage(actor, case_id, states=("mediation",))
            await self._active(viewer)
            await self._require_consent(viewer)
            agreement = await self.current_agreement(case_id)
            if agreement is None or agreement["status"] == "superseded":
                raise self._conflict(viewer, "there is no agreement to sign")
            if agreement["status"] == "frozen":
                raise self._conflict(viewer, "the agreement is signed by every party and frozen")
            signers = [p["id"] for p in agreement["content"]["parties"]]
            if data.party_id not in signers:
                raise field_error("party_id", "not a party to this agreement")
            digest = agreement["content_hash"]
            signed = await self._signed(agreement["id"], digest)
            if data.party_id in signed:
                raise self._conflict(viewer, "this party has signed this revision already")
            await Signature.insert(
                Signature(
                    agreement_id=agreement["id"],
                    party_id=data.party_id,
                    method=data.method,
                    content_hash=digest,
                    recorded_by=actor.username,
                    at=now,
                )
            )
            fields: dict[str, Any] = {
                "agreement_id": agreement["id"],
                "party_id": data.party_id,
                "method": data.method,
                "sha256": digest,
            }
            if set(signers) <= {*signed, data.party_id}:
                await Agreement.update({Agreement.status: "frozen", Agreement.frozen_at: now}).where(
                    Agreement.id == agreement["id"]
                )
                await Mediation.update({Mediation.status: "agreement"}).where(Mediation.case_id == case_id)
                fields["frozen"] = True
                fields["confirmation_due"] = now + self.clocks.judicial_confirmation
                await self._event(viewer, FREEZE_ACTION, fields, now)
                await self._tell_parties(viewer, agreement, fields["confirmation_due"], now)
            else:
                await self._event(viewer, "agreement_sign", fields, now)
            return await self.current_agreement(case_id)  # type: ignore[return-value]

    async def _tell_parties(
        self, viewer: Viewer, agreement: dict[str, Any], confirmation_due: datetime, now: datetime
    ) -> None:
        """The agreement is in force: the parties learn the deadline to apply for judicial confirmation."""
        case_id = viewer.case["id"]
        usernames = {p["id"]: p["username"] for p in await self._parties(case_id)}
        payload = {"case_id": case_id, "agreement_id": agreement["id"], "confirmation_due": confirmation_due}
        for party in agreement["content"]["parties"]:
            recipient = usernames.get(party["id"]) or f"case:{case_id}:party:{party['id']}"
            await enqueue(
                topic="mediation.agreement_in_force",
                case_id=case_id,
                recipient=recipient,
                payload=payload,
                at=now,
            )

    @staticmethod
    async def _signed(agreement_id: int, digest: str) -> set[int]:
        rows = await Signature.select(Signature.party_id).where(
            (Signature.agreement_id == agreement_id) & (Signature.content_hash == digest)
        )
        return {row["party_id"] for row in rows}

    async def _frozen(self, viewer: Viewer) -> dict[str, Any]:
        agreement = await self.current_agreement(viewer.case["id"])
        if agreement is None or agreement["status"] != "frozen":
            raise self._conflict(viewer, "there is no signed (frozen) agreement in force")
        return agreement

    async def record_confirmation(self, actor: Principal, case_id: int, data: s.ConfirmationCreate) -> None:
        """The parties applied together to the court for judicial confirmation: the countdown stops."""
        now = self.now()
        async with write_transaction():
            viewer = await self._manage(actor, case_id, states=tuple(self.cases.workflow.spec.states))
            agreement = await self._frozen(viewer)
            if agreement["confirmation_applied_at"] is not None:
                raise self._conflict(viewer, "the application for judicial confirmation is recorded already")
            applied_at = data.applied_at or now
            if applied_at > now or applied_at < agreement["frozen_at"]:
                raise field_error("applied_at", "must lie between the agreement's signing and now")
            await Agreement.update(
                {Agreement.confirmation_applied_at: applied_at, Agreement.confirmation_court: data.court}
            ).where(Agreement.id == agreement["id"])
            late = applied_at > agreement["frozen_at"] + self.clocks.judicial_confirmation
            await self._event(
                viewer,
                "judicial_confirmation",
                {
                    "agreement_id": agreement["id"],
                    "applied_at": applied_at,
                    "court": data.court,
                    "late": late,
                },
                now,
            )

    async def check_performance(self, actor: Principal, case_id: int, data: s.CheckCreate) -> dict[str, Any]:
        """A performance check; non-performance reopens mediation or refers the case, in one transaction."""
        now = self.now()
        if data.result == "not_performed" and data.follow_up is None:
            raise field_error("follow_up", "non-performance needs a follow-up: reopen or refer")
        if data.result == "performed" and data.follow_up is not None:
            raise field_error("follow_up", "nothing to follow up when the terms are performed")
        if data.follow_up == "refer" and data.refer_to is None:
            raise field_error(
                "refer_to", "say where the case is referred: court, arbitration, administrative"
            )
        async with write_transaction():
            viewer = await self._manage(actor, case_id, states=tuple(self.cases.workflow.spec.states))
            agreement = await self._frozen(viewer)
            terms = agreement["content"]["terms"]
            due_on = agreement["content"]["performance_deadline"]
            if data.term_index is not None:
                if data.term_index >= len(terms):
                    raise field_error("term_index", f"the agreement has {len(terms)} terms")
                due_on = terms[data.term_index].get("due_on") or due_on
            row = PerformanceCheck(
                agreement_id=agreement["id"],
                case_id=case_id,
                term_index=data.term_index,
                due_on=date.fromisoformat(due_on),
                result=data.result,
                follow_up=data.follow_up,
                note=data.note,
                checked_by=actor.username,
                at=now,
            )
            await PerformanceCheck.insert(row)
            await self._event(
                viewer,
                "performance_check",
                {
                    "agreement_id": agreement["id"],
                    "check_id": row.id,
                    "term_index": data.term_index,
                    "result": data.result,
                    "follow_up": data.follow_up,
                },
                now,
            )
            if data.follow_up == "reopen":
                await self._case_action(viewer, "reopen_mediation", {"reason": data.note})
            elif data.follow_up == "refer":
                body = {"to": data.refer_to, "reason": data.note, "outcome": "failed_referred"}
                await self._case_action(viewer, "refer", body)
            elif viewer.case["outcome"] == "agreement_pending" and await self._fully_performed(agreement):
                await self._case_action(viewer, "record_performance", {"note": data.note})
            return row.to_dict()

    async def _fully_performed(self, agreement: dict[str, Any]) -> bool:
        checks = await PerformanceCheck.select().where(PerformanceCheck.agreement_id == agreement["id"])
        return self._next_check(agreement, checks) is None

    async def _case_action(self, viewer: Viewer, action: str, body: dict[str, Any]) -> None:
        fresh = await Case.select(Case.version).where(Case.id == viewer.case["id"]).first()
        assert fresh is not None
        await self.cases.act(viewer.actor, viewer.case["id"], action, {**body, "version": fresh["version"]})

    # ---- the case's own actions, as they concern mediation (called by CaseService) -------------

    async def case_effects(
        self, actor: Principal, case: dict[str, Any], action: str, payload: dict[str, Any], now: datetime
    ) -> Decide:
        """Checks and column changes that a case action needs because of the mediation records (an
        effect hook: ``jiesu.cases.effects``)."""
        if action in ("dispatch", "reassign"):
            # A case being filed (no id yet) has no mediation records.
            recused = await self._recused_usernames(case["id"]) if case["id"] is not None else set()

            def refuse_recused(final: dict[str, Any]) -> dict[str, Any]:
                if final["assignee"] in recused:
                    raise field_error("assignee", "a party objected to this mediator on this case (recusal)")
                return {}

            return refuse_recused
        if action == "resolve":
            outcome = payload["outcome"]
            if outcome in AGREEMENT_OUTCOMES:
                agreement = await self.current_agreement(case["id"])
                if agreement is None or agreement["status"] != "frozen":
                    raise field_error("outcome", "needs a mediation agreement signed by every party")
            if outcome == "failed_referred" and not payload.get("referred_to"):
                raise field_error("referred_to", "say where the case is referred")
        if action == "reopen_mediation" or (action == "refer" and case["state"] != "mediation"):
            agreement = await self.current_agreement(case["id"])
            if agreement is None or agreement["status"] != "frozen":
                raise self._refusal(actor, case, "needs a signed agreement that was not performed")
        if action == "record_performance":
            agreement = await self.current_agreement(case["id"])
            if (
                agreement is None
                or agreement["status"] != "frozen"
                or case["outcome"] != "agreement_pending"
                or not await self._fully_performed(agreement)
            ):
                raise self._refusal(actor, case, "needs outcome agreement_pending and every term performed")
            return unconditionally({"outcome": "agreement_performed"})
        if action == "refer":
            return unconditionally(
                {
                    "outcome": payload.get("outcome") or "referred",
                    "resolution_summary": payload["reason"],
                    "resolved_at": now,
                    "feedback_due": None,
                    "closed_at": None,
                }
            )
        if action == "reopen_mediation":
            await self._reopen(case["id"], now)
            reopened = {"outcome": None, "resolved_at": None, "feedback_due": None, "closed_at": None}
            return unconditionally(reopened)
        return unconditionally({})

    async def _reopen(self, case_id: int, now: datetime) -> None:
        """A new round: the agreement in force is superseded and the mediation clock starts again."""
        await Agreement.update({Agreement.status: "superseded"}).where(
            (Agreement.case_id == case_id) & (Agreement.status != "superseded")
        )
        mediation = await self._mediation(case_id)
        if mediation is not None:
            await Mediation.update(
                {
                    Mediation.status: "reopened",
                    Mediation.clock_due: now + self.clocks.clock,
                    Mediation.extension_count: 0,
                    Mediation.round_no: mediation["round_no"] + 1,
                }
            ).where(Mediation.id == mediation["id"])

    # ---- reading ----------------------------------------------------------------------------

    def party_out(self, viewer: Viewer, party: dict[str, Any]) -> s.PartyOut:
        """Contacts: full for oneself, the assignee and dispatchers; masked for supervisors and the
        other parties; and never the applicant's for the respondent side."""
        own = party["id"] in viewer.party_ids
        contact: s.ContactView | None
        if own or viewer.full_contacts:
            contact = s.ContactView(phone=party["phone"], address=party["address"])
        elif party["side"] == "applicant" and "respondent" in viewer.sides and not viewer.manager:
            contact = None
        else:
            contact = s.ContactView(
                phone=mask_phone(party["phone"]) if party["phone"] else None, address=None
            )
        return s.PartyOut(
            id=party["id"],
            side=party["side"],
            name=party["name"] if viewer.manager or own or viewer.sides else mask_name(party["name"]),
            relationship=party["relationship"],
            username=party["username"],
            consent=party["consent"],
            consent_at=party["consent_at"],
            consent_channel=party["consent_channel"],
            contact=contact,
        )

    @staticmethod
    def mediator_out(row: dict[str, Any]) -> s.MediatorOut:
        return s.MediatorOut(**{**row, "consenting_party_ids": json.loads(row["consenting_party_ids"])})

    @staticmethod
    def session_out(viewer: Viewer, row: dict[str, Any]) -> s.SessionOut:
        attended = row["attended_party_ids"]
        return s.SessionOut(
            **{
                **row,
                "attendee_party_ids": json.loads(row["attendee_party_ids"]),
                "attendee_mediator_ids": json.loads(row["attendee_mediator_ids"]),
                "attended_party_ids": json.loads(attended) if attended else None,
                "notes": row["notes"] if viewer.manager else None,
            }
        )

    def _countdown(self, due: datetime, now: datetime) -> s.Countdown:
        return s.Countdown(due=due, days_left=_days_left(due, now), expired=due < now)

    async def agreement_out(self, agreement: dict[str, Any], now: datetime) -> s.AgreementOut:
        signatures = (
            await Signature.select().where(Signature.agreement_id == agreement["id"]).order_by(Signature.id)
        )
        digest = agreement["content_hash"]
        current = {sig["party_id"] for sig in signatures if sig["content_hash"] == digest}
        checks = (
            await PerformanceCheck.select()
            .where(PerformanceCheck.agreement_id == agreement["id"])
            .order_by(PerformanceCheck.id)
        )
        return s.AgreementOut(
            **{k: agreement[k] for k in s.AgreementOut.model_fields if k in agreement},
            signatures=[
                s.SignatureOut(
                    party_id=sig["party_id"],
                    method=sig["method"],
                    at=sig["at"],
                    current=sig["content_hash"] == digest,
                )
                for sig in signatures
            ],
            unsigned_party_ids=[p["id"] for p in agreement["content"]["parties"] if p["id"] not in current],
            judicial_confirmation=self._confirmation(agreement, now),
            checks=[s.CheckOut(**check) for check in checks],
            next_check_on=self._next_check(agreement, checks),
        )

    def _confirmation(self, agreement: dict[str, Any], now: datetime) -> s.Countdown | None:
        """The window to apply for judicial confirmation, from signing until applied for."""
        if agreement["frozen_at"] is None or agreement["confirmation_applied_at"] is not None:
            return None
        return self._countdown(agreement["frozen_at"] + self.clocks.judicial_confirmation, now)

    @staticmethod
    def _next_check(agreement: dict[str, Any], checks: list[dict[str, Any]]) -> date | None:
        """The earliest agreed date whose term has no check saying it was performed."""
        if agreement["status"] != "frozen":
            return None
        content = agreement["content"]
        done = {c["term_index"] for c in checks if c["result"] == "performed"}
        if None in done:
            return None
        dates = [
            date.fromisoformat(term.get("due_on") or content["performance_deadline"])
            for index, term in enumerate(content["terms"])
            if index not in done
        ]
        return min(dates) if dates else None

    async def signatures_for_document(self, agreement: dict[str, Any]) -> list[dict[str, Any]]:
        return (
            await Signature.select()
            .where(
                (Signature.agreement_id == agreement["id"])
                & (Signature.content_hash == agreement["content_hash"])
            )
            .order_by(Signature.id)
        )

    async def agreement_for(self, actor: Principal, case_id: int) -> tuple[Viewer, dict[str, Any]]:
        viewer = await self.viewer(actor, case_id)
        agreement = await self.current_agreement(case_id)
        if agreement is None:
            raise NotFoundException("this case has no mediation agreement")
        return viewer, agreement

    async def summary(self, actor: Principal, case_id: int) -> s.MediationSummary:
        viewer = await self.viewer(actor, case_id)
        now = self.now()
        parties = await self._parties(case_id)
        mediation = await self._mediation(case_id)
        sessions = (
            await MediationSession.select()
            .where(MediationSession.case_id == case_id)
            .order_by(MediationSession.scheduled_at)
        )
        if not viewer.manager:
            sessions = [
                row
                for row in sessions
                if row["public"] or viewer.party_ids & set(json.loads(row["attendee_party_ids"]))
            ]
        mediators = await Mediator.select().where(Mediator.case_id == case_id).order_by(Mediator.id)
        recusals = await Recusal.select().where(Recusal.case_id == case_id).order_by(Recusal.id)
        agreement = await self.current_agreement(case_id)
        agreement_out = await self.agreement_out(agreement, now) if agreement else None
        recused = {r["username"] for r in recusals if r["username"]}
        clock = None
        if mediation is not None:
            clock = s.MediationClock(
                started_at=mediation["started_at"],
                due=mediation["clock_due"],
                days_left=_days_left(mediation["clock_due"], now),
                overdue=mediation["clock_due"] < now and viewer.case["state"] == "mediation",
                extension_count=mediation["extension_count"],
                may_extend=mediation["extension_count"] == 0,
            )
        blocking = self.blocking(parties)
        checks = [check.model_dump() for check in agreement_out.checks] if agreement_out else []
        brief = self.brief(viewer.case, mediation, sessions, agreement, checks, recused, now)
        return s.MediationSummary(
            case_id=case_id,
            case_state=viewer.case["state"],
            status=mediation["status"] if mediation else "not_started",
            may_start=mediation is None and not blocking and viewer.case["state"] == "mediation",
            blocking=blocking,
            needs_reassignment=brief.needs_reassignment,
            clock=clock,
            parties=[self.party_out(viewer, p) for p in parties],
            mediators=[self.mediator_out(m) for m in mediators],
            recusals=[s.RecusalOut(**r) for r in recusals],
            sessions=[self.session_out(viewer, row) for row in sessions],
            agreement=agreement_out,
            brief=brief,
        )

    def brief(
        self,
        case: dict[str, Any],
        mediation: dict[str, Any] | None,
        sessions: list[dict[str, Any]],
        agreement: dict[str, Any] | None,
        checks: list[dict[str, Any]],
        recused: set[str],
        now: datetime,
    ) -> s.MediationBrief:
        upcoming = [
            row["scheduled_at"] for row in sessions if row["status"] != "held" and row["scheduled_at"] >= now
        ]
        countdown = self._confirmation(agreement, now) if agreement else None
        return s.MediationBrief(
            status=mediation["status"] if mediation else "not_started",
            clock_due=mediation["clock_due"] if mediation else None,
            clock_overdue=bool(mediation and mediation["clock_due"] < now and case["state"] == "mediation"),
            next_session_at=min(upcoming) if upcoming else None,
            agreement_status=agreement["status"] if agreement else None,
            confirmation_due=countdown.due if countdown else None,
            confirmation_days_left=countdown.days_left if countdown else None,
            next_check_on=self._next_check(agreement, checks) if agreement else None,
            needs_reassignment=case["assignee"] is not None and case["assignee"] in recused,
        )

    async def briefs(self, cases: list[dict[str, Any]]) -> dict[int, s.MediationBrief]:
        """Briefs for a page of cases, in a fixed number of queries (for the worker's queue)."""
        ids = [case["id"] for case in cases]
        if not ids:
            return {}
        now = self.now()
        mediations = {m["case_id"]: m for m in await Mediation.select().where(Mediation.case_id.is_in(ids))}
        agreements: dict[int, dict[str, Any]] = {}
        for row in await Agreement.select().where(Agreement.case_id.is_in(ids)).order_by(Agreement.id):
            agreements[row["case_id"]] = {**row, "content": json.loads(row["content"])}
        sessions: dict[int, list[dict[str, Any]]] = {}
        for row in await MediationSession.select().where(
            MediationSession.case_id.is_in(ids) & (MediationSession.status != "held")
        ):
            sessions.setdefault(row["case_id"], []).append(row)
        checks: dict[int, list[dict[str, Any]]] = {}
        agreement_ids = [a["id"] for a in agreements.values()]
        for row in await PerformanceCheck.select().where(
            PerformanceCheck.agreement_id.is_in(agreement_ids or [0])
        ):
            checks.setdefault(row["agreement_id"], []).append(row)
        recused: dict[int, set[str]] = {}
        for row in await Recusal.select(Recusal.case_id, Recusal.username).where(Recusal.case_id.is_in(ids)):
            recused.setdefault(row["case_id"], set()).add(row["username"])
        result = {}
        for case in cases:
            case_id = case["id"]
            if case_id not in mediations and case_id not in agreements and case_id not in recused:
                continue
            agreement = agreements.get(case_id)
            result[case_id] = self.brief(
                case,
                mediations.get(case_id),
                sessions.get(case_id, []),
                agreement,
                checks.get(agreement["id"], []) if agreement else [],
                recused.get(case_id, set()),
                now,
            )
        return result

    async def follow_ups(self, actor: Principal) -> list[s.FollowUp]:
        """Frozen agreements in the caller's care whose confirmation window or performance dates run."""
        if actor.role not in ("worker", "dispatcher", "supervisor"):
            raise PermissionDeniedException("follow-ups are for mediators, dispatchers and supervisors")
        frozen = await Agreement.select(Agreement.case_id).where(Agreement.status == "frozen")
        ids = [row["case_id"] for row in frozen]
        if not ids:
            return []
        query = Case.select().where(Case.id.is_in(ids))
        if actor.role == "worker":
            query = query.where(Case.assignee == actor.username)
        else:
            query = query.where(self.cases.visibility_clause(actor))
        rows = await query.order_by(Case.id)
        briefs = await self.briefs(rows)
        items = [
            s.FollowUp(
                case_id=row["id"],
                tracking_no=row["tracking_no"],
                case_state=row["state"],
                brief=briefs[row["id"]],
            )
            for row in rows
            if row["id"] in briefs
        ]
        far = date.max
        return sorted(
            items,
            key=lambda item: min(
                item.brief.next_check_on or far,
                item.brief.confirmation_due.date() if item.brief.confirmation_due else far,
            ),
        )
