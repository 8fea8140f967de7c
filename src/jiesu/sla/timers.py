"""The sweeper's timer row of a case, kept in step with the case inside the transaction that changes it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jiesu import db
from jiesu.sla.calendar import SlaConfig
from jiesu.sla.deadlines import current_due, running_clock
from jiesu.sla.tables import SlaTimer

NEVER = datetime(9999, 1, 1, tzinfo=UTC)


def remind_time(started_at: datetime, due_at: datetime, share: float) -> datetime:
    return started_at + (due_at - started_at) * share


def known_timers() -> dict[int, dict[str, Any] | None]:
    """Timers this transaction has read already, by case id (the sweeper claims them in bulk): track()
    need not read them again. Forgotten as soon as track() changes one."""
    return db.transaction_scratch().setdefault("sla_timers", {})


async def track(case: dict[str, Any], now: datetime, sla: SlaConfig | None = None) -> None:
    """Start the timer of the clock that runs now; leave it alone while the deadline is unchanged."""
    clock = running_clock(case)
    due = current_due(case)
    if clock is None or due is None:
        await SlaTimer.delete().where(SlaTimer.case_id == case["id"])
        known_timers().pop(case["id"], None)
        return
    known = known_timers()
    timer = known.get(case["id"])
    if case["id"] not in known:
        timer = (
            await SlaTimer.select(SlaTimer.id, SlaTimer.clock, SlaTimer.due_at)
            .where(SlaTimer.case_id == case["id"])
            .first()
        )
    if timer is not None and timer["clock"] == clock and timer["due_at"] == due:
        return
    known.pop(case["id"], None)
    started = now if clock == "feedback" else case["received_at"]
    values = {
        SlaTimer.clock: clock,
        SlaTimer.started_at: started,
        SlaTimer.due_at: due,
        SlaTimer.stage: "remind",
        SlaTimer.next_at: remind_time(started, due, sla.reminder_at if sla else 0.8),
        SlaTimer.reminded_at: None,
        SlaTimer.overdue_at: None,
    }
    if timer is None:
        await SlaTimer.insert(
            SlaTimer(
                case_id=case["id"], escalations=0, **{column._meta.name: v for column, v in values.items()}
            )
        )
    else:
        await SlaTimer.update(values).where(SlaTimer.id == timer["id"])
