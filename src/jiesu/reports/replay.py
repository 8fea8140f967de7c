"""The rates follow the chain: the case columns they use, replayed from the audit events.

Every event records the new values of the report columns it set (``cases.service.RECORDED_COLUMNS``, the
event's ``changes``, signed with the chain). Folding a case's events in order gives what its columns
must hold; the reports' copy (``projection.py``) is built from that fold, and the integrity check
registered with the audit chain compares the fold with the case rows and with the copy, naming the case
and the field that differ. A case whose history began before events recorded their changes (an event
with ``changes`` NULL) cannot be replayed: its copy row is taken from the case row, and the check leaves
it out (``verify`` says how many).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from jiesu.audit.checks import IntegrityProblem, register_integrity_check
from jiesu.batch_writer import Query, Rows, Statements, run_statements
from jiesu.cases.service import RECORDED_COLUMNS

RETURN_ACTION = "return_order"
TIMES = frozenset(c for c in RECORDED_COLUMNS if c.endswith(("_at", "_due")))
EVENTS_SQL = (
    "SELECT seq, case_id, action, changes FROM jiesu_case_event"
    " WHERE case_id <> 0 AND seq > ? ORDER BY seq LIMIT ?"
)
EVENTS_OF_SQL = (
    "SELECT seq, case_id, action, changes FROM jiesu_case_event WHERE case_id IN ({}) ORDER BY seq"
)
BATCH = 20000


def _query(sql: str, *args: Any) -> Statements[Rows]:
    rows: Rows = yield Query(sql, list(args))
    return rows


async def rows_of(sql: str, *args: Any) -> Rows:
    """A read on the driver's connection: far cheaper per row than Piccolo's raw queries."""
    return await run_statements(_query(sql, *args))


@dataclass
class Replayed:
    """What a case's events say: its report columns, whether it was returned, its last event."""

    values: dict[str, Any] = field(default_factory=lambda: dict.fromkeys(RECORDED_COLUMNS))
    returned: bool = False
    last_seq: int = 0
    complete: bool = True  # False: an event before the chain recorded changes

    def apply(self, event: dict[str, Any]) -> None:
        self.last_seq = int(event["seq"])
        self.returned = self.returned or event["action"] == RETURN_ACTION
        if event["changes"] is None:
            self.complete = False
            return
        self.values.update(json.loads(event["changes"]))


def normalised(column: str, value: Any) -> Any:
    """One form for a value read from either database, from the case table, the copy or an event."""
    if value is None:
        return None
    if column in TIMES:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return (moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment).astimezone(UTC)
    if isinstance(value, bool):
        return int(value)
    return value


def centihours(later: Any, earlier: Any) -> int | None:
    """As ``reports.sql.centihours_between``: hundredths of an hour, rounded half up."""
    if later is None or earlier is None:
        return None
    seconds = (normalised("resolved_at", later) - normalised("received_at", earlier)).total_seconds()
    return math.floor(seconds / 36 + 0.5)


def copy_row(case_id: int, replayed: Replayed) -> dict[str, Any]:
    """The reports' copy row of a case, from its events."""
    values = replayed.values
    return {
        "id": case_id,
        **{c: values.get(c) for c in RECORDED_COLUMNS},
        "contact_centihours": centihours(values.get("responded_at"), values.get("received_at")),
        "resolution_centihours": centihours(values.get("resolved_at"), values.get("received_at")),
        "returned": 1 if replayed.returned else 0,
    }


def fold(events: Iterable[dict[str, Any]], into: dict[int, Replayed] | None = None) -> dict[int, Replayed]:
    cases = {} if into is None else into
    for event in events:
        cases.setdefault(int(event["case_id"]), Replayed()).apply(event)
    return cases


async def replay_cases(case_ids: list[int]) -> dict[int, Replayed]:
    """The fold of the whole history of these cases."""
    cases: dict[int, Replayed] = {}
    for start in range(0, len(case_ids), 500):
        chunk = case_ids[start : start + 500]
        fold(await rows_of(EVENTS_OF_SQL.format(", ".join(str(int(i)) for i in chunk))), cases)
    return cases


async def replay_all() -> dict[int, Replayed]:
    cases: dict[int, Replayed] = {}
    after = 0
    while True:
        batch = await rows_of(EVENTS_SQL, after, BATCH)
        fold(batch, cases)
        if len(batch) < BATCH:
            return cases
        after = int(batch[-1]["seq"])


def _differs(case_id: int, where: str, row: dict[str, Any], expected: dict[str, Any]) -> str | None:
    for column, value in expected.items():
        if column == "id":
            continue
        found, wanted = normalised(column, row.get(column)), normalised(column, value)
        if found != wanted:
            return (
                f"case {case_id}: {column} is {_shown(found)} in {where} but the events say {_shown(wanted)}"
            )
    return None


def _shown(value: Any) -> str:
    return "NULL" if value is None else value.isoformat() if isinstance(value, datetime) else repr(value)


async def first_replay_problem() -> IntegrityProblem | None:
    """The first case whose row or copy row differs from what its events say (by the case's last event)."""
    replayed = await replay_all()
    columns = ", ".join(("id", *RECORDED_COLUMNS))
    rows = {int(r["id"]): r for r in await rows_of(f"SELECT {columns} FROM jiesu_case")}
    copy = {int(r["id"]): r for r in await rows_of("SELECT * FROM jiesu_report_case")}
    watermark = int((await rows_of("SELECT seq FROM jiesu_report_watermark WHERE id = 1"))[0]["seq"])
    problems: list[IntegrityProblem] = []
    for case_id in sorted(set(rows) - set(replayed)):
        problems.append(IntegrityProblem(0, f"case {case_id} has no event in the chain (written outside it)"))
    for case_id, case in sorted(replayed.items(), key=lambda item: item[1].last_seq):
        if not case.complete:
            continue
        expected = copy_row(case_id, case)
        if case_id not in rows:
            reason: str | None = f"case {case_id} has events but no row in jiesu_case (deleted)"
        else:
            reason = _differs(
                case_id, "jiesu_case", rows[case_id], {c: expected[c] for c in RECORDED_COLUMNS}
            )
        if reason is None and case.last_seq <= watermark:
            if case_id not in copy:
                reason = f"case {case_id} is missing from the reports' copy (jiesu_report_case)"
            else:
                reason = _differs(case_id, "the reports' copy (jiesu_report_case)", copy[case_id], expected)
        if reason is not None:
            problems.append(IntegrityProblem(case.last_seq, reason))
            break
    return min(problems, key=lambda p: p.seq) if problems else None


async def incomplete_cases() -> int:
    return sum(1 for case in (await replay_all()).values() if not case.complete)


def register_with_audit() -> None:
    register_integrity_check("reports.replay", first_replay_problem)
