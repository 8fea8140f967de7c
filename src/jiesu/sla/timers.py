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


def new_timer(case: dict[str, Any], now: datetime, sla: SlaConfig | None = None) -> dict[str, Any] | None:
    """The columns of the timer of the clock that runs now; None when no clock runs."""
    clock = running_clock(case)
    due = current_due(case)
    if clock is None or due is None:
        return None
    started = now if clock == "feedback" else case["received_at"]
    return {
        "case_id": case["id"],
        "clock": clock,
        "started_at": started,
        "due_at": due,
        "stage": "remind",
        "next_at": remind_time(started, due, sla.reminder_at if sla else 0.8),
        "reminded_at": None,
        "overdue_at": None,
        "escalations": 0,
    }


def known_timers() -> dict[int, dict[str, Any] | None]:
    """Timers this transaction has read already, by case id (the sweeper claims them in bulk): track()
    need not read them again. Forgotten as soon as track() changes one."""
    return db.transaction_scratch().setdefault("sla_timers", {})


async def track(case: dict[str, Any], now: datetime, sla: SlaConfig | None = None) -> None:
    """Start the timer of the clock that runs now; leave it alone while the deadline is unchanged."""
    timer = new_timer(case, now, sla)
    known = known_timers()
    if timer is None:
        await SlaTimer.delete().where(SlaTimer.case_id == case["id"])
        known.pop(case["id"], None)
        return
    current = known.get(case["id"])
    if case["id"] not in known:
        current = (
            await SlaTimer.select(SlaTimer.id, SlaTimer.clock, SlaTimer.due_at)
            .where(SlaTimer.case_id == case["id"])
            .first()
        )
    if current is not None and current["clock"] == timer["clock"] and current["due_at"] == timer["due_at"]:
        return
    known.pop(case["id"], None)
    if current is None:
        await SlaTimer.insert(SlaTimer(**timer))
    else:
        # A new clock or deadline restarts the stages; escalations already made stay counted.
        del timer["case_id"], timer["escalations"]
        await SlaTimer.update(timer).where(SlaTimer.id == current["id"])
