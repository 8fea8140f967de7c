"""The rates read ``jiesu_report_case``: a narrow copy of the case columns they use, with the two durations
(in hundredths of an hour, the unit the report shows) and the returned-order flag worked out, brought up
to date before each report.

Every change of a case appends an audit event in the same transaction, and the chain hands out sequence
numbers in commit order (appending locks the head row), so the cases with an event after the copy's
watermark are exactly the cases changed since the last catch-up. The case write path is not touched;
exclusions are not copied (the report leaves them out at query time, so they apply at once).
"""

from __future__ import annotations

from jiesu.db import current_engine, is_sqlite, write_transaction
from jiesu.reports.sql import Where, centihours_between, fetch

COLUMNS = (
    "received_at",
    "jurisdiction_code",
    "jurisdiction_path",
    "category",
    "assignee",
    "response_due",
    "responded_at",
    "resolution_due",
    "resolved_at",
    "closed_at",
    "satisfaction",
    "filer_resolved",
    "reopen_count",
)
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

CHANGED = "c.id IN (SELECT e.case_id FROM jiesu_case_event e WHERE e.seq > {} AND e.seq <= {})"
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
    if mark < 0:  # never built: copy every case, then tell the planner the size of the copy
        await fetch(upsert_sql(Where(), "" if is_sqlite() else PG_BUILD_ORDER))
        await fetch("ANALYZE jiesu_report_case")
    else:
        changed = Where().plus(CHANGED, mark, head)
        await fetch(upsert_sql(changed), *changed.args)
    await fetch("UPDATE jiesu_report_watermark SET seq = {} WHERE id = 1", head)
    return head - max(mark, 0)
