"""The case's own actions as they concern mediation: CaseService calls ``case_effects`` (an effect hook
registered at start-up) inside the action's transaction, before it writes the case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.case_record import CaseRecord
from jiesu.cases.effects import Decide, unconditionally
from jiesu.errors import field_error
from jiesu.mediation.agreements import fully_performed
from jiesu.mediation.base import Room, current_agreement, mediation_of, recused_usernames
from jiesu.mediation.tables import Agreement, Mediation
from jiesu.workflow import STATES

AGREEMENT_OUTCOMES = ("agreement_performed", "agreement_pending")


async def _frozen_agreement(case_id: int) -> dict[str, Any] | None:
    """The case's agreement if it is signed by every party (frozen), else None."""
    agreement = await current_agreement(case_id)
    return agreement if agreement is not None and agreement["status"] == "frozen" else None


class CaseRules(Room):
    async def case_effects(
        self, actor: Principal, case: CaseRecord, action: str, payload: dict[str, Any], now: datetime
    ) -> Decide:
        """Checks and column changes that a case action needs because of the mediation records (an
        effect hook: ``jiesu.cases.effects``)."""
        if action in ("dispatch", "reassign"):
            # A case being filed (no id yet) has no mediation records.
            recused = await recused_usernames(case.id) if case.id is not None else set()

            def refuse_recused(final: dict[str, Any]) -> dict[str, Any]:
                if final["assignee"] in recused:
                    raise field_error("assignee", "a party objected to this mediator on this case (recusal)")
                return {}

            return refuse_recused
        if action == "resolve":
            await _check_outcome(case, payload)
        referred_after = action == "refer" and case.state != STATES.mediation
        after_agreement = action == "reopen_mediation" or referred_after
        if after_agreement and await _frozen_agreement(case.inserted_id) is None:
            raise self.refusal(actor, case, "needs a signed agreement that was not performed")
        if action == "record_performance":
            agreement = await _frozen_agreement(case.inserted_id)
            if (
                agreement is None
                or case.outcome != "agreement_pending"
                or not await fully_performed(agreement)
            ):
                raise self.refusal(actor, case, "needs outcome agreement_pending and every term performed")
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
            await self._reopen(case.inserted_id, now)
            reopened = {"outcome": None, "resolved_at": None, "feedback_due": None, "closed_at": None}
            return unconditionally(reopened)
        return unconditionally({})

    async def _reopen(self, case_id: int, now: datetime) -> None:
        """A new round: the agreement in force is superseded and the mediation clock starts again."""
        await Agreement.update({Agreement.status: "superseded"}).where(
            (Agreement.case_id == case_id) & (Agreement.status != "superseded")
        )
        mediation = await mediation_of(case_id)
        if mediation is not None:
            await Mediation.update(
                {
                    Mediation.status: "reopened",
                    Mediation.clock_due: now + self.clocks.clock,
                    Mediation.extension_count: 0,
                    Mediation.round_no: mediation["round_no"] + 1,
                }
            ).where(Mediation.id == mediation["id"])


async def _check_outcome(case: CaseRecord, payload: dict[str, Any]) -> None:
    outcome = payload["outcome"]
    if outcome in AGREEMENT_OUTCOMES and await _frozen_agreement(case.inserted_id) is None:
        raise field_error("outcome", "needs a mediation agreement signed by every party")
    if outcome == "failed_referred" and not payload.get("referred_to"):
        raise field_error("referred_to", "say where the case is referred")
