"""The sweeper: reminders at 80% of a clock, overdue escalation one level at a time, unrated feedback closed.

Each pass claims the timers that are due in batches. On PostgreSQL the claim is
``FOR UPDATE OF timer, case SKIP LOCKED``, so several processes split the work and each case is handled
once; on SQLite the immediate write transaction serialises them. Case changes go through CaseService.
Per batch, the outbox messages are written in one INSERT and the timers in one UPDATE, so a due case
costs about one statement per case change (see README, "Immediate dispatch … Performance").

The sweeper sits above both cases and sla: the clocks and the timer table (jiesu.sla) know nothing of
cases' services, and this module fires the cases' system actions when a timer says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jiesu import db
from jiesu.accounts.tables import User
from jiesu.background import JobReport
from jiesu.case_record import CaseRecord
from jiesu.cases.service import CaseService
from jiesu.cases.tables import Case
from jiesu.clock import Clock
from jiesu.errors import JiesuError
from jiesu.notify.outbox import enqueue_many, outbox_row
from jiesu.sla.calendar import SlaConfig
from jiesu.sla.escalation import escalation_target
from jiesu.sla.timers import NEVER, TimerStep, claim_due, retry_at, write_steps

log = logging.getLogger("jiesu.sla")

RETRY_AFTER = timedelta(minutes=1)


@dataclass
class SweepReport(JobReport):
    claimed: int = 0
    reminded: int = 0
    escalated: int = 0
    closed: int = 0
    conflicts: int = 0


@dataclass
class Batch:
    """What one batch of the pass writes at its end: outbox messages and the timers' next steps."""

    outbox: list[dict[str, Any]] = field(default_factory=list)  # outbox_row()s
    timers: list[TimerStep] = field(default_factory=list)

    async def write(self) -> None:
        await enqueue_many(self.outbox)
        await write_steps(self.timers)


class Sweeper:
    def __init__(self, cases: CaseService, config: SlaConfig, clock: Clock, batch: int = 100) -> None:
        self.cases = cases
        self.config = config
        self.clock = clock
        self.batch = batch

    async def sweep(self) -> SweepReport:
        """One pass over every timer that is due now."""
        now = self.clock()
        report = SweepReport()
        recipients: dict[tuple[str, str | None], list[str]] = {}
        while True:
            async with db.write_transaction():
                timers = await claim_due(now, self.batch)
                if timers:
                    rows = await Case.select().where(Case.id.is_in([t["case_id"] for t in timers]))
                    by_id = {row["id"]: CaseRecord.from_row(row) for row in rows}
                    batch = Batch()
                    for timer in timers:
                        await self._handle(timer, by_id[timer["case_id"]], now, report, recipients, batch)
                    await batch.write()
            report.claimed += len(timers)
            if len(timers) < self.batch:
                return report

    async def _handle(
        self,
        timer: dict[str, Any],
        case: CaseRecord,
        now: datetime,
        report: SweepReport,
        recipients: dict[tuple[str, str | None], list[str]],
        batch: Batch,
    ) -> None:
        stage, clock, due = timer["stage"], timer["clock"], timer["due_at"]
        reminded_at = overdue_at = None
        escalations = timer["escalations"]
        try:
            while True:
                if stage == "remind":
                    if now < due:
                        await self._remind(case, clock, due, now, recipients, batch)
                        reminded_at = now
                        report.reminded += 1
                    stage, next_at = "due", due
                elif stage == "due" and clock == "feedback":
                    await self.cases.system_action(case, "close_unrated", {}, now)
                    report.closed += 1
                    return  # the case is closed: its timer is gone
                elif stage in ("due", "again"):
                    target = escalation_target(case)
                    if target is not None:
                        case = await self._escalate(case, clock, due, target, now, recipients, batch)
                        escalations += 1
                        report.escalated += 1
                    if stage == "due":
                        overdue_at = now
                    more = stage == "due" and escalation_target(case) is not None
                    stage, next_at = (
                        ("again", due + self.config.escalate_again_after) if more else ("done", NEVER)
                    )
                else:
                    stage, next_at = "done", NEVER
                if stage == "done" or next_at > now:
                    break
        except JiesuError:
            # The case cannot take the action now; look again in a minute rather than spin in this pass.
            report.conflicts += 1
            log.warning("sweeper: case %s could not be handled; retrying later", case.id)
            await retry_at(timer["timer_id"], now + RETRY_AFTER)
            return
        batch.timers.append((timer["timer_id"], stage, next_at, escalations, reminded_at, overdue_at))

    async def _remind(
        self,
        case: CaseRecord,
        clock: str,
        due: datetime,
        now: datetime,
        recipients: dict[tuple[str, str | None], list[str]],
        batch: Batch,
    ) -> None:
        payload = {"case_id": case.id, "tracking_no": case.tracking_no, "clock": clock, "due_at": due}
        if clock == "feedback":
            people = [case.filer or f"case:{case.id}:filer"]
        elif case.assignee:
            people = [case.assignee]
        else:
            target = escalation_target(case.replace(escalation_level=None))
            people = await self._staff(target, recipients) if target else []
        for person in people:
            batch.outbox.append(
                outbox_row(topic="case.reminder", case_id=case.id, recipient=person, payload=payload, at=now)
            )

    async def _escalate(
        self,
        case: CaseRecord,
        clock: str,
        due: datetime,
        target: tuple[str, str | None],
        now: datetime,
        recipients: dict[tuple[str, str | None], list[str]],
        batch: Batch,
    ) -> CaseRecord:
        level, unit = target
        extra = {"overdue_since": due, "unit": unit}
        updated = await self.cases.system_action(
            case, "sla_escalate", {"level": level, "clock": clock}, now, extra
        )
        payload = {
            "case_id": case.id,
            "tracking_no": case.tracking_no,
            "clock": clock,
            "due_at": due,
            "level": level,
            "unit": unit,
        }
        people = [("case.escalated", person) for person in await self._staff(target, recipients)]
        if case.assignee:
            people.append(("case.overdue", case.assignee))
        batch.outbox.extend(
            outbox_row(topic=topic, case_id=case.id, recipient=person, payload=payload, at=now)
            for topic, person in people
        )
        return updated

    async def _staff(
        self, target: tuple[str, str | None], cache: dict[tuple[str, str | None], list[str]]
    ) -> list[str]:
        """The unit's dispatchers, else its supervisors, else the city-wide dispatchers."""
        if target not in cache:
            unit = target[1]
            people: list[str] = []
            for role in ("dispatcher", "supervisor"):
                if unit is None or people:
                    break
                rows = await User.select(User.username).where(
                    (User.role == role) & (User.jurisdiction_code == unit) & (User.active == True)  # noqa: E712
                )
                people = [row["username"] for row in rows]
            if not people:
                rows = await User.select(User.username).where(
                    (User.role == "dispatcher") & User.jurisdiction_code.is_null() & (User.active == True)  # noqa: E712
                )
                people = [row["username"] for row in rows]
            cache[target] = sorted(people)
        return cache[target]
