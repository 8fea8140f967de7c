"""The rates read ``jiesu_report_case``: a narrow copy of the case columns they use, with the two durations
(in hundredths of an hour, the unit the report shows) and the returned-order flag worked out, brought up
to date before each report. The copy is built from the audit events (``replay.py``: each event records
the report columns it set), not read from the case rows, so a case row edited in the database does not
move the rates, and ``jiesu audit verify`` names it. Only a case whose history began before events
recorded their changes is copied from its case row.

Every change of a case appends an audit event in the same transaction, and the chain hands out sequence
numbers in commit order (appending locks the head row), so the cases with an event after the copy's
watermark are exactly the cases changed since the last catch-up. The case write path is not touched;
exclusions are not copied (the report leaves them out at query time, so they apply at once).
"""

from __future__ import annotations

from typing import Any

from jiesu.batch_writer import Query, Statements, run_in_current_transaction
from jiesu.cases.service import RECORDED_COLUMNS
from jiesu.db import current_engine, is_sqlite, write_transaction
from jiesu.reports.replay import TIMES, copy_row, normalised, replay_all, replay_cases
from jiesu.reports.sql import Where, centihours_between, fetch

COLUMNS = RECORDED_COLUMNS  # the report columns every event records
DERIVED = ("contact_centihours", "resolution_centihours", "returned")

RETURNED = """CASE WHEN EXISTS (SELECT 1 FROM jiesu_case_event e
  WHERE e.action = 'return_order' AND e.case_id = c.id) THEN 1 ELSE 0 END"""

UPSERT = """
INSERT INTO jiesu_report_case (id, {columns})
SELECT c.id, {values}
FROM jiesu_case c WHERE {where} {order}
ON CONFLICT (id) DO UPDATE SET {updates}
"""
# PostgreSQL keeps rows in the order they were written: a full copy written month by month and, within a
# month, subtree by subtree puts a month's cases (the recent window) and a street's cases (a supervisor's
# scope) each on a small share of the pages
PG_BUILD_ORDER = "ORDER BY date_trunc('month', c.received_at AT TIME ZONE 'UTC'), c.jurisdiction_path, c.id"

CHANGED = "SELECT DISTINCT case_id FROM jiesu_case_event WHERE seq > {} AND seq <= {} AND case_id <> 0"
WRITE = "INSERT INTO jiesu_report_case ({columns}) VALUES ({values}) ON CONFLICT (id) DO UPDATE SET {updates}"
WRITE_CHUNK = 500
HEAD = "SELECT COALESCE(MAX(seq), 0) AS seq FROM jiesu_case_event"
WATERMARK = "SELECT seq FROM jiesu_report_watermark WHERE id = 1"


def upsert_sql(where: Where, order: str = "") -> str:
    values = [f"c.{name}" for name in COLUMNS] + [
        centihours_between("c.responded_at", "c.received_at"),
        centihours_between("c.resolved_at", "c.received_at"),
        RETURNED,
    ]
    names = (*COLUMNS, *DERIVED)
    return UPSERT.format(
        columns=", ".join(names),
        values=", ".join(values),
        where=where.sql,
        order=order,
        updates=", ".join(f"{name} = excluded.{name}" for name in names),
    )


async def head_seq() -> int:
    return int((await fetch(HEAD))[0]["seq"])


async def watermark() -> int:
    return int((await fetch(WATERMARK))[0]["seq"])


async def refresh() -> int:
    """Bring the copy up to the chain's head; returns the number of events it had to catch up on."""
    if await head_seq() == await watermark():
        return 0
    if is_sqlite():  # SQLite has one writer: catch up as a write operation of its own
        async with write_transaction():
            return await _catch_up(lock="")
    # PostgreSQL: a transaction of its own (not in a case write batch); the watermark row lock
    # serialises concurrent catch-ups, including those of other server processes
    async with current_engine().transaction():
        return await _catch_up(lock=" FOR UPDATE")


async def _catch_up(lock: str) -> int:
    mark = int((await fetch(WATERMARK + lock))[0]["seq"])
    head = await head_seq()
    if head == mark:
        return 0
    if mark < 0:  # never built: replay every case, then tell the planner the size of the copy
        replayed = await replay_all()
    else:
        changed = [int(row["case_id"]) for row in await fetch(CHANGED, mark, head)]
        replayed = await replay_cases(changed)
    rows = [copy_row(case_id, case) for case_id, case in replayed.items() if case.complete]
    if mark < 0 and not is_sqlite():
        # PostgreSQL keeps rows in the order they were written (see PG_BUILD_ORDER)
        rows.sort(
            key=lambda r: (
                normalised("received_at", r["received_at"]).strftime("%Y-%m"),
                r["jurisdiction_path"] or "",
                r["id"],
            )
        )
    await _write(rows)
    unreplayable = [case_id for case_id, case in replayed.items() if not case.complete]
    for start in range(0, len(unreplayable), WRITE_CHUNK):
        ids = ", ".join(str(i) for i in unreplayable[start : start + WRITE_CHUNK])
        await fetch(upsert_sql(Where().plus(f"c.id IN ({ids})")))
    if mark < 0:
        await fetch("ANALYZE jiesu_report_case")
    await fetch("UPDATE jiesu_report_watermark SET seq = {} WHERE id = 1", head)
    return head - max(mark, 0)


def _stored(column: str, value: Any) -> Any:
    return normalised(column, value) if column in TIMES else value


def _upsert(rows: list[dict[str, Any]]) -> Statements[None]:
    names = list(rows[0])
    updates = ", ".join(f"{n} = excluded.{n}" for n in names if n != "id")
    sql = WRITE.format(columns=", ".join(names), values=", ".join("?" * len(names)), updates=updates)
    yield Query(sql, rows=[[_stored(n, row[n]) for n in names] for row in rows])


async def _write(rows: list[dict[str, Any]]) -> None:
    """One executemany in the catch-up's transaction."""
    if rows:
        await run_in_current_transaction(_upsert(rows))
