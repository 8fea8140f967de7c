"""Reading a mediation: the whole summary for one case, and the brief a queue item shows of it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.case_record import CaseRecord
from jiesu.cases.schemas import MediationBrief
from jiesu.errors import not_found
from jiesu.mediation import schemas as s
from jiesu.mediation.agreements import agreement_out, confirmation_window, next_check
from jiesu.mediation.base import Room, Viewer, current_agreement, days_left, mediation_of, parties_of
from jiesu.mediation.panel import mediator_out
from jiesu.mediation.parties import blocking, party_out
from jiesu.mediation.sessions import session_out
from jiesu.mediation.tables import Agreement, Mediation, MediationSession, Mediator, PerformanceCheck, Recusal
from jiesu.workflow import STATES


def _clock(viewer: Viewer, mediation: dict[str, Any], now: datetime) -> s.MediationClock:
    return s.MediationClock(
        started_at=mediation["started_at"],
        due=mediation["clock_due"],
        days_left=days_left(mediation["clock_due"], now),
        overdue=mediation["clock_due"] < now and viewer.case.state == STATES.mediation,
        extension_count=mediation["extension_count"],
        may_extend=mediation["extension_count"] == 0,
    )


class Overview(Room):
    async def summary(self, actor: Principal, case_id: int) -> s.MediationSummary:
        viewer = await self.viewer(actor, case_id)
        now = self.now()
        parties = await parties_of(case_id)
        mediation = await mediation_of(case_id)
        sessions = await self._visible_sessions(viewer)
        mediators = await Mediator.select().where(Mediator.case_id == case_id).order_by(Mediator.id)
        recusals = await Recusal.select().where(Recusal.case_id == case_id).order_by(Recusal.id)
        agreement = await current_agreement(case_id)
        agreement_view = await agreement_out(agreement, self.clocks, now) if agreement else None
        recused = {r["username"] for r in recusals if r["username"]}
        blocked = blocking(parties)
        checks = [check.model_dump() for check in agreement_view.checks] if agreement_view else []
        brief = self.brief(viewer.case, mediation, sessions, agreement, checks, recused, now)
        return s.MediationSummary(
            case_id=case_id,
            case_state=viewer.case.state,
            status=mediation["status"] if mediation else "not_started",
            may_start=mediation is None and not blocked and viewer.case.state == STATES.mediation,
            blocking=blocked,
            needs_reassignment=brief.needs_reassignment,
            clock=_clock(viewer, mediation, now) if mediation is not None else None,
            parties=[party_out(viewer, p) for p in parties],
            mediators=[mediator_out(m) for m in mediators],
            recusals=[s.RecusalOut(**r) for r in recusals],
            sessions=[session_out(viewer, row) for row in sessions],
            agreement=agreement_view,
            brief=brief,
        )

    async def agreement_for(self, actor: Principal, case_id: int) -> tuple[Viewer, dict[str, Any]]:
        viewer = await self.viewer(actor, case_id)
        agreement = await current_agreement(case_id)
        if agreement is None:
            raise not_found("this case has no mediation agreement")
        return viewer, agreement

    async def agreement(self, agreement: dict[str, Any]) -> s.AgreementOut:
        return await agreement_out(agreement, self.clocks, self.now())

    @staticmethod
    async def _visible_sessions(viewer: Viewer) -> list[dict[str, Any]]:
        """Every session for a manager; a party sees those they attend and public ones."""
        sessions = (
            await MediationSession.select()
            .where(MediationSession.case_id == viewer.case.inserted_id)
            .order_by(MediationSession.scheduled_at)
        )
        if viewer.manager:
            return sessions
        return [
            row
            for row in sessions
            if row["public"] or viewer.party_ids & set(json.loads(row["attendee_party_ids"]))
        ]

    def brief(
        self,
        case: CaseRecord,
        mediation: dict[str, Any] | None,
        sessions: list[dict[str, Any]],
        agreement: dict[str, Any] | None,
        checks: list[dict[str, Any]],
        recused: set[str],
        now: datetime,
    ) -> MediationBrief:
        upcoming = [
            row["scheduled_at"] for row in sessions if row["status"] != "held" and row["scheduled_at"] >= now
        ]
        window = confirmation_window(agreement, self.clocks, now) if agreement else None
        return MediationBrief(
            status=mediation["status"] if mediation else "not_started",
            clock_due=mediation["clock_due"] if mediation else None,
            clock_overdue=bool(mediation and mediation["clock_due"] < now and case.state == STATES.mediation),
            next_session_at=min(upcoming) if upcoming else None,
            agreement_status=agreement["status"] if agreement else None,
            confirmation_due=window.due if window else None,
            confirmation_days_left=window.days_left if window else None,
            next_check_on=next_check(agreement, checks) if agreement else None,
            needs_reassignment=case.assignee is not None and case.assignee in recused,
        )

    async def briefs(self, cases: list[CaseRecord]) -> dict[int, MediationBrief]:
        """Briefs for a page of cases, in a fixed number of queries (for the worker's queue)."""
        ids = [case.inserted_id for case in cases]
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
            case_id = case.inserted_id
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
