"""The running mediation: its clock (start, one extension) and its sessions with their reminders."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.errors import field_error, not_found
from jiesu.mediation import schemas as s
from jiesu.mediation.base import IN_MEDIATION, Room, Viewer, mediation_of, parties_of, recused_usernames
from jiesu.mediation.parties import require_all_consenting, require_consent
from jiesu.mediation.tables import Mediation, MediationSession, Mediator
from jiesu.notify.outbox import enqueue
from jiesu.notify.tables import OutboxMessage

REMINDER_TOPIC = "mediation.session_reminder"


async def require_active(room: Room, viewer: Viewer) -> dict[str, Any]:
    """The running mediation, with a mediator not recused."""
    mediation = await mediation_of(viewer.case.inserted_id)
    if mediation is None:
        raise room.conflict(viewer, "mediation has not started")
    if viewer.case.assignee in await recused_usernames(viewer.case.inserted_id):
        raise room.conflict(viewer, "a party objected to the assigned mediator: reassign the case first")
    return mediation


async def require_running(room: Room, viewer: Viewer) -> list[dict[str, Any]]:
    """The parties of a running mediation that every applicant and respondent consents to."""
    await require_active(room, viewer)
    return await require_consent(room, viewer)


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


class Sessions(Room):
    # ---- the mediation clock ----------------------------------------------------------------

    async def start(self, actor: Principal, case_id: int) -> None:
        now = self.now()
        async with self.managing(actor, case_id, IN_MEDIATION) as viewer:
            if await mediation_of(case_id) is not None:
                raise self.conflict(viewer, "mediation has started already")
            if viewer.case.assignee is None:
                raise self.conflict(viewer, "the case has no assigned mediator")
            await require_consent(self, viewer)
            due = now + self.clocks.clock
            await Mediation.insert(
                Mediation(case_id=case_id, started_at=now, clock_due=due, status="in_progress")
            )
            await self.event(viewer, "mediation_start", {"clock_due": due}, now)

    async def extend(self, actor: Principal, case_id: int, data: s.ExtendClock) -> None:
        now = self.now()
        async with self.managing(actor, case_id, IN_MEDIATION) as viewer:
            mediation = await require_active(self, viewer)
            if mediation["extension_count"] > 0:
                raise self.conflict(viewer, "the mediation clock was extended once already")
            parties = await require_consent(self, viewer)
            require_all_consenting(parties, data.consenting_party_ids, "consenting_party_ids")
            if data.until <= mediation["clock_due"]:
                raise field_error("until", "must be later than the current mediation deadline")
            if data.until > mediation["clock_due"] + self.clocks.extension_max:
                raise field_error("until", f"may extend by at most {self.clocks.extension_max.days} days")
            await Mediation.update({Mediation.clock_due: data.until, Mediation.extension_count: 1}).where(
                Mediation.id == mediation["id"]
            )
            await self.event(
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

    # ---- sessions ---------------------------------------------------------------------------

    async def schedule(self, actor: Principal, case_id: int, data: s.SessionCreate) -> dict[str, Any]:
        now = self.now()
        async with self.managing(actor, case_id, IN_MEDIATION) as viewer:
            await require_running(self, viewer)
            if data.scheduled_at <= now:
                raise field_error("scheduled_at", "must be in the future")
            await _check_attendees(case_id, data)
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
            await self.event(
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

    async def hold(
        self, actor: Principal, case_id: int, session_id: int, data: s.SessionHold
    ) -> dict[str, Any]:
        async with self._open_session(actor, case_id, session_id) as (viewer, session, now):
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
            await self.event(
                viewer,
                "session_hold",
                {"session_id": session_id, "held_at": held_at, "attended_party_ids": json.loads(attended)},
                now,
            )
            await _cancel_reminders(case_id, session_id)
            return {
                **session,
                "status": "held",
                "held_at": held_at,
                "attended_party_ids": attended,
                "notes": data.notes,
            }

    async def postpone(
        self, actor: Principal, case_id: int, session_id: int, data: s.SessionPostpone
    ) -> dict[str, Any]:
        async with self._open_session(actor, case_id, session_id) as (viewer, session, now):
            if data.until <= now:
                raise field_error("until", "must be in the future")
            await MediationSession.update(
                {
                    MediationSession.status: "postponed",
                    MediationSession.scheduled_at: data.until,
                    MediationSession.postponements: session["postponements"] + 1,
                }
            ).where(MediationSession.id == session_id)
            await self.event(
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
            await _cancel_reminders(case_id, session_id)
            await self._remind(viewer, updated, "mediation.session_postponed", now)
            return updated

    @asynccontextmanager
    async def _open_session(
        self, actor: Principal, case_id: int, session_id: int
    ) -> AsyncIterator[tuple[Viewer, dict[str, Any], datetime]]:
        """A change, now, of the managed case in mediation and one of its sessions that was not held yet."""
        now = self.now()
        async with self.managing(actor, case_id, IN_MEDIATION) as viewer:
            await require_active(self, viewer)
            session = (
                await MediationSession.select()
                .where((MediationSession.case_id == case_id) & (MediationSession.id == session_id))
                .first()
            )
            if session is None:
                raise not_found(f"no session {session_id} on this case")
            if session["status"] == "held":
                raise self.conflict(viewer, "the session was held already")
            yield viewer, session, now

    async def _remind(self, viewer: Viewer, session: dict[str, Any], topic: str, now: datetime) -> None:
        """Tell every attendee now, and queue a reminder before the session (cancelled on postponement)."""
        case_id = viewer.case.inserted_id
        payload = {"case_id": case_id, "session_id": session["id"], "scheduled_at": session["scheduled_at"]}
        remind_at = max(now, session["scheduled_at"] - self.clocks.session_reminder)
        for recipient in await _attendees(viewer, session):
            await enqueue(topic=topic, case_id=case_id, recipient=recipient, payload=payload, at=now)
            await OutboxMessage.insert(
                OutboxMessage(
                    case_id=case_id,
                    topic=REMINDER_TOPIC,
                    recipient=recipient,
                    payload=json.dumps(payload, default=str),
                    status="pending",
                    next_attempt_at=remind_at,
                    created_at=now,
                )
            )


async def _check_attendees(case_id: int, data: s.SessionCreate) -> None:
    parties = {p["id"] for p in await parties_of(case_id)}
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


async def _attendees(viewer: Viewer, session: dict[str, Any]) -> list[str]:
    """Who hears of a session, each once: its parties and mediators, and the case's assignee."""
    case_id = viewer.case.inserted_id
    party_ids = json.loads(session["attendee_party_ids"])
    parties = {p["id"]: p for p in await parties_of(case_id)}
    mediator_ids = json.loads(session["attendee_mediator_ids"])
    mediators = await Mediator.select(Mediator.username).where(Mediator.id.is_in(mediator_ids or [0]))
    recipients = [parties[pid]["username"] or f"case:{case_id}:party:{pid}" for pid in party_ids]
    recipients += [m["username"] for m in mediators if m["username"]]
    if viewer.case.assignee:
        recipients.append(viewer.case.assignee)
    return list(dict.fromkeys(recipients))


async def _cancel_reminders(case_id: int, session_id: int) -> None:
    pending = await OutboxMessage.select(OutboxMessage.id, OutboxMessage.payload).where(
        (OutboxMessage.case_id == case_id)
        & (OutboxMessage.topic == REMINDER_TOPIC)
        & (OutboxMessage.status == "pending")
    )
    stale = [row["id"] for row in pending if json.loads(row["payload"]).get("session_id") == session_id]
    if stale:
        await OutboxMessage.update({OutboxMessage.status: "cancelled"}).where(OutboxMessage.id.is_in(stale))
