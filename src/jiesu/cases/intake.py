"""Filing in batches: the write half of ``POST /api/cases``, for every filing queued at one moment.

The request prepares an ``IntakePlan`` (validation, deadlines, the system's acceptance, the effect hooks
of accept and dispatch: ``jiesu.cases.effects``) without touching the database's write lock. The batch
step then does, for all plans together, in one transaction and about ten statements whatever the batch
size: lock the audit head, find idempotent replays, read the routing rules, the workers on duty and
their loads, place each case and choose its worker (loads counted as the batch assigns, the hooks
deciding on the worker), insert the cases, their hash-chained events, outbox rows, deadline timers and
routing decisions. A case the rules can place is thus accepted, dispatched and assigned before the
request is answered, and answered only after its COMMIT (``jiesu.batch_writer``).

Each domain owns its part: the audit chain the head and the linking (``lock_head``, ``append_after``),
the router its reads and its decision (``Router.read_rules`` …, ``decision_row``); table and column
names come from the Piccolo tables. This module records what the router decided.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from jiesu.accounts.security import SYSTEM
from jiesu.audit.chain import Head, append_after, lock_head
from jiesu.batch_writer import (
    Query,
    Rows,
    Statements,
    Steps,
    insert_rows,
    insert_sql,
    name,
    placeholders,
    row_values,
    table_name,
)
from jiesu.case_record import CaseRecord
from jiesu.cases.effects import Decide, decide
from jiesu.cases.tables import Case
from jiesu.errors import REFUSALS
from jiesu.notify.outbox import outbox_row
from jiesu.notify.tables import OutboxMessage
from jiesu.routing.router import Placement, decision_row, decision_summary, dispatch_fields
from jiesu.routing.tables import RoutingDecision
from jiesu.sla.tables import SlaTimer
from jiesu.sla.timers import new_timer
from jiesu.workflow import STATES

if TYPE_CHECKING:
    from jiesu.cases.service import CaseService


@cache
def case_defaults() -> dict[str, Any]:
    """Every column of a new case with its default (asked once an engine is chosen)."""
    return {key: value for key, value in Case().to_dict().items() if key != "id"}


def new_case(**columns: Any) -> CaseRecord:
    """A case not yet inserted (no id): the table's defaults with ``columns`` over them."""
    return CaseRecord.from_row({**case_defaults(), **columns, "id": None})


# The states in which an assigned case counts towards its worker's load.
LOAD_STATES = (STATES.triage, *STATES.worker_queue)


def open_case_counts(usernames: list[str]) -> Statements[Rows]:
    """The open cases of these workers by priority: (assignee, priority, count) rows, the router's
    ``OpenCases``."""
    assignee, priority, state = name(Case.assignee), name(Case.priority), name(Case.state)
    rows: Rows = yield Query(
        f"SELECT {assignee} AS assignee, {priority} AS priority, COUNT(*) AS count FROM {table_name(Case)}"
        f" WHERE {assignee} IN ({placeholders(len(usernames))})"
        f" AND {state} IN ({placeholders(len(LOAD_STATES))}) GROUP BY {assignee}, {priority}",
        [*usernames, *LOAD_STATES],
    )
    return rows


ACCESS_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read out over the phone


def tracking_number(now: datetime) -> str:
    """JS<date>-<6 characters>: short enough to read out; the batch makes sure it is not taken."""
    return f"JS{now:%Y%m%d}-" + "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(6))


@dataclass
class IntakePlan:
    """A filing, checked and prepared: the case as the system accepted it, before any id exists."""

    case: CaseRecord  # no id yet
    events: list[dict[str, Any]]  # prepared events (file, accept) without their case id
    now: datetime
    key: str | None = None
    accepted: bool = False
    # The state a dispatch leads to (fired on the shared machine by the request), when routing runs.
    dispatch_state: str | None = None
    located_by: str | None = None
    # The effect hooks' decisions on that dispatch, prepared with the request (``jiesu.cases.effects``).
    dispatch_effects: list[Decide] = field(default_factory=list)


@dataclass
class IntakeOutcome:
    case: CaseRecord
    created: bool
    routing: dict[str, Any] | None = None


@dataclass
class _Written:
    plan: IntakePlan
    case: CaseRecord
    events: list[dict[str, Any]]
    messages: list[tuple[str, CaseRecord]] = field(default_factory=list)  # (after action, case then)
    decision: dict[str, Any] | None = None


class IntakeBatch:
    """The batch step (see ``jiesu.batch_writer``) of filing."""

    def __init__(self, service: CaseService) -> None:
        self.service = service
        self.router = service.router

    def __call__(self, plans: list[IntakePlan]) -> Steps[IntakeOutcome]:
        head = yield from lock_head()
        existing = yield from self._existing(plans)
        fresh: list[IntakePlan] = []
        first_of_key: dict[str, IntakePlan] = {}
        for plan in plans:
            if plan.key and plan.key not in existing and plan.key not in first_of_key:
                first_of_key[plan.key] = plan
            if not plan.key or first_of_key.get(plan.key) is plan:
                fresh.append(plan)
        written = yield from self._route(fresh)
        yield from self._insert_cases(written)
        yield from self._insert_rest(written, head)
        by_plan = {id(w.plan): w for w in written}
        outcomes: list[IntakeOutcome | Exception] = []
        for plan in plans:
            if id(plan) in by_plan:
                done = by_plan[id(plan)]
                routing = decision_summary(done.decision) if done.decision else None
                outcomes.append(IntakeOutcome(done.case, True, routing))
            else:
                assert plan.key is not None
                replayed = existing.get(plan.key) or by_plan[id(first_of_key[plan.key])].case
                outcomes.append(IntakeOutcome(replayed, False))
        return outcomes

    def _existing(self, plans: list[IntakePlan]) -> Statements[dict[str, CaseRecord]]:
        keys = sorted({plan.key for plan in plans if plan.key})
        if not keys:
            return {}
        key = name(Case.idempotency_key)
        rows: Rows = yield Query(
            f"SELECT * FROM {table_name(Case)} WHERE {key} IN ({placeholders(len(keys))})", keys
        )
        return {row[key]: CaseRecord.from_row(row) for row in rows}

    def _route(self, plans: list[IntakePlan]) -> Statements[list[_Written]]:
        """Place every routable case and choose its worker, counting the loads the batch adds."""
        written = [_Written(plan, plan.case, list(plan.events)) for plan in plans]
        for item in written:
            if item.plan.accepted:
                item.messages.append(("accept", item.case))
        routable = [w for w in written if w.plan.dispatch_state is not None]
        router = self.router
        if not routable or router is None:
            return written
        version, rules = yield from router.read_rules()
        yield from router.read_jurisdictions(
            router.codes_to_place(rules, (w.case.jurisdiction_path for w in routable))
        )
        placements = [router.place(rules, w.case) for w in routable]
        homes = sorted(
            {
                h
                for w, p in zip(routable, placements, strict=True)
                for h in router.homes(p, w.case.jurisdiction_path)
            }
        )
        workers = yield from router.read_workers(homes)
        loads = yield from router.read_loads(workers, rules)
        for item, placement in zip(routable, placements, strict=True):
            self._dispatch(item, placement, version, workers, loads, rules.weight(item.case.priority))
        return written

    def _dispatch(
        self,
        item: _Written,
        placement: Placement,
        version: int,
        workers: Rows,
        loads: dict[str, list[int]],
        weight: int,
    ) -> None:
        assert item.plan.dispatch_state is not None
        case, now = item.case, item.plan.now
        worker, changes = self._worker_hooks_allow(item, placement, workers, loads)
        if worker is not None:
            load = loads.setdefault(worker, [0, 0])
            load[0] += weight
            load[1] += 1
            dispatched = self.service.apply(
                case, item.plan.dispatch_state, {"assignee": worker, **changes}, now
            )
            recorded = {"assignee": worker, **dispatch_fields(placement)}
            fields = {k: v for k, v in recorded.items() if v is not None}
            item.events.append(self.service.event(SYSTEM, case, dispatched, "dispatch", fields, now))
            item.messages.append(("dispatch", dispatched))
            item.case = dispatched
        item.decision = decision_row(placement, worker, version, item.plan.located_by, now)

    def _worker_hooks_allow(
        self, item: _Written, placement: Placement, workers: Rows, loads: dict[str, list[int]]
    ) -> tuple[str | None, dict[str, Any]]:
        """The router's choice among the workers the effect hooks accept, and the hooks' changes."""
        assert self.router is not None
        candidates = workers
        while (worker := self.router.choose_worker(item.case, placement, candidates, loads)) is not None:
            payload = {"version": item.case.version, "assignee": worker}
            try:
                return worker, decide(item.plan.dispatch_effects, payload)
            except REFUSALS:
                candidates = [w for w in candidates if w["username"] != worker]
        return None, {}

    def _insert_cases(self, written: list[_Written]) -> Statements[None]:
        """Insert the cases; a tracking number already taken is drawn again.

        Six random characters a day: at tens of thousands of filings a day two would share one now and
        then. ``ON CONFLICT (tracking_no) DO NOTHING`` leaves such a case out of the answer, at no
        extra statement in the usual case; numbers are made unique within the batch first.
        """
        ids: dict[str, int] = {}
        pending = written
        while pending:
            used = set(ids)
            for item in pending:
                while item.case.tracking_no in used:
                    item.case = item.case.replace(tracking_no=tracking_number(item.plan.now))
                used.add(item.case.tracking_no)
            rows: Rows = yield Query(
                insert_sql(
                    Case,
                    len(pending),
                    returning=(Case.id, Case.tracking_no),
                    on_conflict=f"({name(Case.tracking_no)}) DO NOTHING",
                ),
                [value for w in pending for value in row_values(Case, w.case.as_row())],
            )
            ids.update((row[name(Case.tracking_no)], row[name(Case.id)]) for row in rows)
            pending = [item for item in pending if item.case.tracking_no not in ids]
            for item in pending:
                item.case = item.case.replace(tracking_no=tracking_number(item.plan.now))
        for item in written:
            number = item.case.tracking_no
            case_id = ids[number]
            item.case = item.case.replace(id=case_id)
            item.events = [{**event, "case_id": case_id} for event in item.events]
            item.messages = [
                (action, case.replace(id=case_id, tracking_no=number)) for action, case in item.messages
            ]
            if item.decision is not None:
                item.decision["case_id"] = case_id

    def _insert_rest(self, written: list[_Written], head: Head) -> Statements[None]:
        yield from append_after(head, [event for item in written for event in item.events])
        outbox, timers, decisions = [], [], []
        for item in written:
            for action, case in item.messages:
                for topic, recipient, payload in self.service.messages(action, case, item.plan.now):
                    outbox.append(
                        outbox_row(
                            topic=topic,
                            case_id=case.id,
                            recipient=recipient,
                            payload=payload,
                            at=item.plan.now,
                        )
                    )
            timer = new_timer(item.case, item.plan.now, self.service.sla)
            if timer is not None:
                timers.append(timer)
            if item.decision is not None:
                decisions.append(item.decision)
        for table, rows in ((OutboxMessage, outbox), (SlaTimer, timers), (RoutingDecision, decisions)):
            if rows:
                yield insert_rows(table, rows)
