"""What every mediation room shares: who is asking, the case lock, refusals and the audit event.

Every change runs in one write transaction that first locks the case row (a no-op UPDATE: a row lock on
PostgreSQL, the IMMEDIATE transaction on SQLite), then writes its rows and one audit event on the case.
Changes of the case's own state or outcome (refer, reopen_mediation, record_performance) go through
CaseService in the same transaction, which writes their own event.
Events and outbox rows carry ids and dates only, never a party's name or phone.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.audit.chain import append_event
from jiesu.case_record import CaseRecord
from jiesu.cases.queries import case_by_id
from jiesu.cases.service import CaseService
from jiesu.cases.tables import Case
from jiesu.db import write_transaction
from jiesu.errors import CaseConflict, forbidden, not_found
from jiesu.mediation.config import MediationClocks
from jiesu.mediation.tables import Agreement, Mediation, MediationParty, Recusal
from jiesu.workflow import STATES

PRINCIPAL_SIDES = ("applicant", "respondent")
IN_MEDIATION = (STATES.mediation,)
BEFORE_AGREEMENT = (STATES.triage, STATES.mediation)


def days_left(due: datetime, now: datetime) -> int:
    return max(0, math.ceil((due - now) / timedelta(days=1)))


@dataclass
class Viewer:
    """Who is asking, and in which capacity: a manager of the mediation, or a party reading it."""

    actor: Principal
    case: CaseRecord
    manager: bool
    full_contacts: bool
    party_ids: set[int] = field(default_factory=set)
    sides: set[str] = field(default_factory=set)


async def recused_usernames(case_id: int) -> set[str]:
    rows = await Recusal.select(Recusal.username).where(
        (Recusal.case_id == case_id) & Recusal.username.is_not_null()
    )
    return {row["username"] for row in rows}


async def parties_of(case_id: int) -> list[dict[str, Any]]:
    return await MediationParty.select().where(MediationParty.case_id == case_id).order_by(MediationParty.id)


async def mediation_of(case_id: int) -> dict[str, Any] | None:
    return await Mediation.select().where(Mediation.case_id == case_id).first()


async def current_agreement(case_id: int) -> dict[str, Any] | None:
    """The latest agreement of the case, its content parsed."""
    row = (
        await Agreement.select()
        .where(Agreement.case_id == case_id)
        .order_by(Agreement.id, ascending=False)
        .first()
    )
    if row is not None:
        row["content"] = json.loads(row["content"])
    return row


class Room:
    """A part of mediation: it reads the case through CaseService and keeps the mediation clocks."""

    def __init__(self, cases: CaseService, clocks: MediationClocks) -> None:
        self.cases = cases
        self.clocks = clocks

    def now(self) -> datetime:
        return self.cases.clock()

    async def viewer(self, actor: Principal, case_id: int, *, lock: bool = False) -> Viewer:
        if lock:
            await Case.update({Case.version: Case.version}).where(Case.id == case_id)
        case = await case_by_id(case_id)
        if case is None:
            raise not_found(f"no case {case_id}")
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
            raise forbidden("mediation records are for the case's mediator and supervisors")
        raise not_found(f"no case {case_id}")

    async def manage(self, actor: Principal, case_id: int, *, states: tuple[str, ...]) -> Viewer:
        """The locked case, for its mediator, dispatchers and supervisors, in one of ``states``."""
        viewer = await self.viewer(actor, case_id, lock=True)
        if not viewer.manager:
            raise forbidden("only the case's mediator, dispatchers and supervisors manage it")
        if actor.username in await recused_usernames(case_id):
            raise forbidden("a party objected to you as mediator: the case is reassigned")
        self.require_state(viewer, states)
        return viewer

    @asynccontextmanager
    async def managing(
        self, actor: Principal, case_id: int, states: tuple[str, ...]
    ) -> AsyncIterator[Viewer]:
        """One write transaction on the locked case, for those who manage its mediation (``manage``)."""
        async with write_transaction():
            yield await self.manage(actor, case_id, states=states)

    def any_state(self) -> tuple[str, ...]:
        return tuple(self.cases.workflow.spec.states)

    def require_state(self, viewer: Viewer, states: tuple[str, ...]) -> None:
        state = viewer.case.state
        if state not in states:
            raise self.conflict(viewer, f"not possible while the case is in state {state}")

    def conflict(self, viewer: Viewer, detail: str) -> CaseConflict:
        return self.refusal(viewer.actor, viewer.case, detail)

    def refusal(self, actor: Principal, case: CaseRecord, detail: str) -> CaseConflict:
        """409 with the case's state, version and the actions the caller may take now."""
        return CaseConflict(
            detail,
            state=case.state,
            version=case.version,
            allowed_actions=self.cases.allowed_actions(actor, case),
        )

    async def event(self, viewer: Viewer, action: str, fields: dict[str, Any], now: datetime) -> None:
        state = viewer.case.state
        await append_event(
            case_id=viewer.case.inserted_id,
            actor=viewer.actor.username,
            actor_role=viewer.actor.role,
            action=action,
            from_state=state,
            to_state=state,
            fields=fields,
            at=now,
        )
