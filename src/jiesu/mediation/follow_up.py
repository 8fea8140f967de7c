"""After every party signed: the judicial confirmation, the checks that the terms are kept, and the
follow-ups due in a mediator's or supervisor's care."""

from __future__ import annotations

from datetime import date
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.cases.queries import records
from jiesu.cases.tables import Case
from jiesu.errors import field_error, forbidden
from jiesu.mediation import schemas as s
from jiesu.mediation.agreements import fully_performed
from jiesu.mediation.base import Room, Viewer, current_agreement
from jiesu.mediation.overview import Overview
from jiesu.mediation.tables import Agreement, PerformanceCheck


class FollowUp(Room):
    async def record_confirmation(self, actor: Principal, case_id: int, data: s.ConfirmationCreate) -> None:
        """The parties applied together to the court for judicial confirmation: the countdown stops."""
        now = self.now()
        async with self.managing(actor, case_id, self.any_state()) as viewer:
            agreement = await self._frozen(viewer)
            if agreement["confirmation_applied_at"] is not None:
                raise self.conflict(viewer, "the application for judicial confirmation is recorded already")
            applied_at = data.applied_at or now
            if applied_at > now or applied_at < agreement["frozen_at"]:
                raise field_error("applied_at", "must lie between the agreement's signing and now")
            await Agreement.update(
                {Agreement.confirmation_applied_at: applied_at, Agreement.confirmation_court: data.court}
            ).where(Agreement.id == agreement["id"])
            late = applied_at > agreement["frozen_at"] + self.clocks.judicial_confirmation
            await self.event(
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
        _check_follow_up(data)
        async with self.managing(actor, case_id, self.any_state()) as viewer:
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
            await self.event(
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
            await self._follow_up(viewer, agreement, data)
            return row.to_dict()

    async def _follow_up(self, viewer: Viewer, agreement: dict[str, Any], data: s.CheckCreate) -> None:
        """The case action a check leads to: reopen, refer, or performed once every term is."""
        if data.follow_up == "reopen":
            await self._case_action(viewer, "reopen_mediation", {"reason": data.note})
        elif data.follow_up == "refer":
            body = {"to": data.refer_to, "reason": data.note, "outcome": "failed_referred"}
            await self._case_action(viewer, "refer", body)
        elif viewer.case.outcome == "agreement_pending" and await fully_performed(agreement):
            await self._case_action(viewer, "record_performance", {"note": data.note})

    async def _frozen(self, viewer: Viewer) -> dict[str, Any]:
        agreement = await current_agreement(viewer.case.inserted_id)
        if agreement is None or agreement["status"] != "frozen":
            raise self.conflict(viewer, "there is no signed (frozen) agreement in force")
        return agreement

    async def _case_action(self, viewer: Viewer, action: str, body: dict[str, Any]) -> None:
        fresh = await Case.select(Case.version).where(Case.id == viewer.case.inserted_id).first()
        assert fresh is not None
        await self.cases.act(
            viewer.actor, viewer.case.inserted_id, action, {**body, "version": fresh["version"]}
        )

    async def follow_ups(self, actor: Principal) -> list[s.FollowUp]:
        """Frozen agreements in the caller's care whose confirmation window or performance dates run."""
        if actor.role not in ("worker", "dispatcher", "supervisor"):
            raise forbidden("follow-ups are for mediators, dispatchers and supervisors")
        frozen = await Agreement.select(Agreement.case_id).where(Agreement.status == "frozen")
        ids = [row["case_id"] for row in frozen]
        if not ids:
            return []
        query = Case.select().where(Case.id.is_in(ids))
        if actor.role == "worker":
            query = query.where(Case.assignee == actor.username)
        else:
            query = query.where(self.cases.visibility_clause(actor))
        cases = records(await query.order_by(Case.id))
        briefs = await Overview(self.cases, self.clocks).briefs(cases)
        items = [
            s.FollowUp(
                case_id=case.inserted_id,
                tracking_no=case.tracking_no,
                case_state=case.state,
                brief=briefs[case.inserted_id],
            )
            for case in cases
            if case.inserted_id in briefs
        ]
        far = date.max
        return sorted(
            items,
            key=lambda item: min(
                item.brief.next_check_on or far,
                item.brief.confirmation_due.date() if item.brief.confirmation_due else far,
            ),
        )


def _check_follow_up(data: s.CheckCreate) -> None:
    if data.result == "not_performed" and data.follow_up is None:
        raise field_error("follow_up", "non-performance needs a follow-up: reopen or refer")
    if data.result == "performed" and data.follow_up is not None:
        raise field_error("follow_up", "nothing to follow up when the terms are performed")
    if data.follow_up == "refer" and data.refer_to is None:
        raise field_error("refer_to", "say where the case is referred: court, arbitration, administrative")
