"""Filing in batches: the write half of ``POST /api/cases``, for every filing queued at one moment.

The request prepares an ``IntakePlan`` (validation, deadlines, the system's acceptance) without touching
the database's write lock. The batch step then does, for all plans together, in one transaction and
about ten statements whatever the batch size: lock the audit head, find idempotent replays, read the
routing rules, the workers on duty and their loads, place each case and choose its worker (loads counted
as the batch assigns), insert the cases, their hash-chained events, outbox rows, deadline timers and
routing decisions. A case the rules can place is thus accepted, dispatched and assigned before the
request is answered, and answered only after its COMMIT (``jiesu.batch_writer``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from jiesu.accounts.security import SYSTEM
from jiesu.audit.chain import link_events
from jiesu.batch_writer import Query, Rows, Steps, placeholders
from jiesu.cases.tables import Case
from jiesu.notify.outbox import OUTBOX_COLUMNS, outbox_row
from jiesu.routing.router import OPEN_LOAD_SQL, Placement, decision_summary
from jiesu.sla.timers import new_timer

if TYPE_CHECKING:
    from jiesu.cases.service import CaseService

CASE_COLUMNS = [column._meta.db_column_name for column in Case._meta.non_default_columns]


@cache
def case_defaults() -> dict[str, Any]:
    """Every column of a new case with its default (asked once an engine is chosen)."""
    return {key: value for key, value in Case().to_dict().items() if key != "id"}


EVENT_COLUMNS = ["seq", "case_id", "actor", "actor_role", "action", "from_state", "to_state", "fields"]
EVENT_COLUMNS += ["created_at", "prev_hash", "hash"]
TEXT_COLUMNS = ["event_seq", "field", "value", "salt"]
TIMER_COLUMNS = ["case_id", "clock", "started_at", "due_at", "stage", "next_at", "reminded_at"]
TIMER_COLUMNS += ["overdue_at", "escalations"]
DECISION_COLUMNS = ["case_id", "rule_id", "rules_version", "level", "unit_code", "assignee", "located_by"]
DECISION_COLUMNS += ["flagged", "reason", "returns", "created_at", "updated_at"]


ACCESS_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read out over the phone


def tracking_number(now: datetime) -> str:
    """JS<date>-<6 characters>: short enough to read out; the batch makes sure it is not taken."""
    return f"JS{now:%Y%m%d}-" + "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(6))


def insert_sql(
    table: str, columns: list[str], rows: int = 1, returning: str = "", on_conflict: str = ""
) -> str:
    values = ",".join(f"({placeholders(len(columns))})" for _ in range(rows))
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES {values}"
    sql += f" ON CONFLICT {on_conflict}" if on_conflict else ""
    return f"{sql} RETURNING {returning}" if returning else sql


@dataclass
class IntakePlan:
    """A filing, checked and prepared: the case as the system accepted it, before any id exists."""

    case: dict[str, Any]  # every column but id
    events: list[dict[str, Any]]  # prepared events (file, accept) without their case id
    now: datetime
    key: str | None = None
    accepted: bool = False
    # The state a dispatch leads to (fired on the shared machine by the request), when routing runs.
    dispatch_state: str | None = None
    located_by: str | None = None


@dataclass
class IntakeOutcome:
    case: dict[str, Any]
    created: bool
    routing: dict[str, Any] | None = None


@dataclass
class _Written:
    plan: IntakePlan
    case: dict[str, Any]
    events: list[dict[str, Any]]
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (after action, case then)
    decision: dict[str, Any] | None = None


class IntakeBatch:
    """The batch step (see ``jiesu.batch_writer``) of filing."""

    def __init__(self, service: CaseService) -> None:
        self.service = service
        self.router = service.router

    def __call__(self, plans: list[IntakePlan]) -> Steps[IntakeOutcome]:
        head = (yield Query("UPDATE jiesu_audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash"))[0]
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

    def _existing(self, plans: list[IntakePlan]) -> Steps[dict[str, dict[str, Any]]]:
        keys = sorted({plan.key for plan in plans if plan.key})
        if not keys:
            return {}
        rows: Rows = yield Query(
            f"SELECT * FROM jiesu_case WHERE idempotency_key IN ({placeholders(len(keys))})", keys
        )
        return {row["idempotency_key"]: row for row in rows}

    def _route(self, plans: list[IntakePlan]) -> Steps[list[_Written]]:
        """Place every routable case and choose its worker, counting the loads the batch adds."""
        written = [_Written(plan, dict(plan.case), list(plan.events)) for plan in plans]
        for item in written:
            if item.plan.accepted:
                item.messages.append(("accept", item.case))
        routable = [w for w in written if w.plan.dispatch_state is not None]
        router = self.router
        if not routable or router is None:
            return written
        version_rows: Rows = yield Query("SELECT MAX(version) AS version FROM jiesu_routing_rules")
        version = version_rows[0]["version"] or 0
        body = None
        if not router.knows_rules(version):
            body = (yield Query("SELECT body FROM jiesu_routing_rules WHERE version = ?", [version]))[0][
                "body"
            ]
        rules = router.rules_at(version, body)
        missing = router.missing_jurisdictions(
            router.codes_to_place(rules, (w.case["jurisdiction_path"] for w in routable))
        )
        if missing:
            router.remember_jurisdictions(
                (
                    yield Query(
                        "SELECT code, level, path FROM jiesu_jurisdiction"
                        f" WHERE code IN ({placeholders(len(missing))})",
                        missing,
                    )
                )
            )
        placements = [router.place(rules, w.case) for w in routable]
        homes = sorted(
            {
                h
                for w, p in zip(routable, placements, strict=True)
                for h in router.homes(p, w.case["jurisdiction_path"])
            }
        )
        workers: Rows = []
        loads: dict[str, list[int]] = {}
        if homes:
            workers = yield Query(
                "SELECT username, categories, capacity, jurisdiction_code FROM jiesu_user"
                " WHERE role = 'worker' AND active = ? AND on_duty = ?"
                f" AND jurisdiction_code IN ({placeholders(len(homes))}) ORDER BY username",
                [True, True, *homes],
            )
            names = [w["username"] for w in workers]
            if names:
                rows = yield Query(OPEN_LOAD_SQL.format(names=placeholders(len(names))), names)
                loads = router.loads(rows, rules)
        for item, placement in zip(routable, placements, strict=True):
            self._dispatch(item, placement, version, workers, loads, rules.weight(item.case["priority"]))
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
        assert self.router is not None and item.plan.dispatch_state is not None
        case, now = item.case, item.plan.now
        worker = self.router.choose_worker(case, placement, workers, loads)
        reason = placement.reason
        if worker is not None:
            load = loads.setdefault(worker, [0, 0])
            load[0] += weight
            load[1] += 1
            extra = {
                "rule": placement.rule.id if placement.rule else None,
                "unit": placement.unit["code"] if placement.unit else None,
                "responsible": placement.unit["code"] if placement.unit else None,
                "assist": list(placement.rule.assist) if placement.rule else [],
                "flagged": placement.flagged,
            }
            dispatched = self.service.apply(case, item.plan.dispatch_state, {"assignee": worker}, now)
            fields = {k: v for k, v in {"assignee": worker, **extra}.items() if v is not None}
            item.events.append(self.service.event(SYSTEM, case, dispatched, "dispatch", fields, now))
            item.messages.append(("dispatch", dispatched))
            item.case = dispatched
        elif placement.unit is not None and not placement.flagged:
            reason = "no_worker"
        item.decision = {
            "rule_id": placement.rule.id if placement.rule else None,
            "rules_version": version,
            "level": placement.level,
            "unit_code": placement.unit["code"] if placement.unit else None,
            "assignee": worker,
            "located_by": item.plan.located_by,
            "flagged": placement.flagged or worker is None,
            "reason": reason,
            "returns": 0,
            "created_at": now,
            "updated_at": now,
        }

    def _insert_cases(self, written: list[_Written]) -> Steps[None]:
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
                while item.case["tracking_no"] in used:
                    item.case["tracking_no"] = tracking_number(item.plan.now)
                used.add(item.case["tracking_no"])
            rows: Rows = yield Query(
                insert_sql(
                    "jiesu_case",
                    CASE_COLUMNS,
                    len(pending),
                    returning="id, tracking_no",
                    on_conflict="(tracking_no) DO NOTHING",
                ),
                [w.case[column] for w in pending for column in CASE_COLUMNS],
            )
            ids.update((row["tracking_no"], row["id"]) for row in rows)
            pending = [item for item in pending if item.case["tracking_no"] not in ids]
            for item in pending:
                item.case["tracking_no"] = tracking_number(item.plan.now)
        for item in written:
            number = item.case["tracking_no"]
            case_id = ids[number]
            item.case = {"id": case_id, **item.case}
            item.events = [{**event, "case_id": case_id} for event in item.events]
            item.messages = [
                (action, {**case, "id": case_id, "tracking_no": number}) for action, case in item.messages
            ]
            if item.decision is not None:
                item.decision["case_id"] = case_id

    def _insert_rest(self, written: list[_Written], head: dict[str, Any]) -> Steps[None]:
        events, texts, head_hash = link_events(
            [e for w in written for e in w.events], head["seq"], head["hash"]
        )
        outbox, timers, decisions = [], [], []
        for item in written:
            for action, case in item.messages:
                for topic, recipient, payload in self.service.messages(action, case, item.plan.now):
                    outbox.append(
                        outbox_row(
                            topic=topic,
                            case_id=case["id"],
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
        for table, columns, rows in (
            ("jiesu_case_event", EVENT_COLUMNS, events),
            ("jiesu_event_text", TEXT_COLUMNS, texts),
            ("jiesu_outbox", OUTBOX_COLUMNS, outbox),
            ("jiesu_sla_timer", TIMER_COLUMNS, timers),
            ("jiesu_routing_decision", DECISION_COLUMNS, decisions),
        ):
            if rows:
                yield Query(insert_sql(table, columns), rows=[[row[c] for c in columns] for row in rows])
        if events:
            yield Query(
                "UPDATE jiesu_audit_head SET seq = ?, hash = ? WHERE id = 1", [events[-1]["seq"], head_hash]
            )
