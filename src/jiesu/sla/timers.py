"""The sweeper's timer row of a case, kept in step with the case inside the transaction that changes it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from piccolo.columns import Column

from jiesu import db
from jiesu.case_record import CaseRecord
from jiesu.sla.calendar import SlaConfig
from jiesu.sla.deadlines import current_due, running_clock
from jiesu.sla.tables import SlaTimer

NEVER = datetime(9999, 1, 1, tzinfo=UTC)


def remind_time(started_at: datetime, due_at: datetime, share: float) -> datetime:
    return started_at + (due_at - started_at) * share


def new_timer(case: CaseRecord, now: datetime, sla: SlaConfig | None = None) -> dict[str, Any] | None:
    """The columns of the timer of the clock that runs now; None when no clock runs."""
    clock = running_clock(case.state, case.responded_at)
    due = current_due(case)
    if clock is None or due is None:
        return None
    started = now if clock == "feedback" else case.received_at
    return {
        "case_id": case.inserted_id,
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
    known: dict[int, dict[str, Any] | None] = db.transaction_scratch().setdefault("sla_timers", {})
    return known


async def track(case: CaseRecord, now: datetime, sla: SlaConfig | None = None) -> None:
    """Start the timer of the clock that runs now; leave it alone while the deadline is unchanged."""
    case_id = case.inserted_id
    timer = new_timer(case, now, sla)
    known = known_timers()
    if timer is None:
        await SlaTimer.delete().where(SlaTimer.case_id == case_id)
        known.pop(case_id, None)
        return
    current = known.get(case_id)
    if case_id not in known:
        current = (
            await SlaTimer.select(SlaTimer.id, SlaTimer.clock, SlaTimer.due_at)
            .where(SlaTimer.case_id == case_id)
            .first()
        )
    if current is not None and current["clock"] == timer["clock"] and current["due_at"] == timer["due_at"]:
        return
    known.pop(case_id, None)
    if current is None:
        await SlaTimer.insert(SlaTimer(**timer))
    else:
        # A new clock or deadline restarts the stages; escalations already made stay counted.
        del timer["case_id"], timer["escalations"]
        changes: dict[Column | str, Any] = {column: value for column, value in timer.items()}
        await SlaTimer.update(changes).where(SlaTimer.id == current["id"])


# ---- the sweeper's claims -------------------------------------------------------------------------

CLAIM_SQL = (
    "SELECT t.id AS timer_id, t.case_id AS case_id, t.clock AS clock, t.stage AS stage, "
    "t.due_at AS due_at, t.escalations AS escalations "
    "FROM jiesu_sla_timer t JOIN jiesu_case c ON c.id = t.case_id "
    "WHERE t.next_at <= {} ORDER BY t.next_at LIMIT {}"
)
LOCK_SQL = " FOR UPDATE OF t, c SKIP LOCKED"
# One UPDATE for the batch's timers; reminded_at / overdue_at are kept unless this pass set them.
_TIMER_SET = (
    "SET stage = v.stage, next_at = v.next_at, escalations = v.escalations, "
    "reminded_at = COALESCE(v.reminded_at, t.reminded_at), overdue_at = COALESCE(v.overdue_at, t.overdue_at)"
)
PG_TIMERS_SQL = (
    f"UPDATE jiesu_sla_timer AS t {_TIMER_SET} FROM unnest({{}}::int[], {{}}::text[], {{}}::timestamptz[], "
    "{}::int[], {}::timestamptz[], {}::timestamptz[]) "
    "AS v(id, stage, next_at, escalations, reminded_at, overdue_at) WHERE t.id = v.id"
)
SQLITE_TIMERS_SQL = (
    "UPDATE jiesu_sla_timer AS t {} FROM (SELECT column1 AS id, column2 AS stage, column3 AS next_at, "
    "column4 AS escalations, column5 AS reminded_at, column6 AS overdue_at FROM (VALUES {})) AS v "
    "WHERE t.id = v.id"
)
# (timer id, stage, next_at, escalations, reminded_at or None, overdue_at or None)
TimerStep = tuple[Any, ...]


async def claim_due(now: datetime, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` timers due at ``now``, with their cases locked (on PostgreSQL, skipping those
    another process holds); inside the caller's write transaction. They count as read for track()."""
    sql = CLAIM_SQL + ("" if db.is_sqlite() else LOCK_SQL)
    timers: list[dict[str, Any]] = await SlaTimer.raw(sql, now, limit)
    known_timers().update(
        (t["case_id"], {"id": t["timer_id"], "clock": t["clock"], "due_at": t["due_at"]}) for t in timers
    )
    return timers


async def write_steps(steps: list[TimerStep]) -> None:
    """The next step of many timers in one UPDATE."""
    if not steps:
        return
    if db.is_sqlite():
        rows = ", ".join(["({}, {}, {}, {}, {}, {})"] * len(steps))
        sql = SQLITE_TIMERS_SQL.format(_TIMER_SET, rows)
        await SlaTimer.raw(sql, *(value for row in steps for value in row))
    else:
        await SlaTimer.raw(PG_TIMERS_SQL, *(list(column) for column in zip(*steps, strict=True)))


async def retry_at(timer_id: int, at: datetime) -> None:
    await SlaTimer.update({SlaTimer.next_at: at}).where(SlaTimer.id == timer_id)
