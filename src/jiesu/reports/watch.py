"""The overdue watch and the hot spots: SQL aggregates over open or recent cases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from jiesu.accounts.tables import Jurisdiction
from jiesu.privacy import mask_name, mask_phone
from jiesu.reports.sql import NOT_EXCLUDED, Scope, Where, as_datetime, fetch
from jiesu.workflow import STATES
from jiesu.workflow.states import sql_list

# The clock a case is running now: mirrors jiesu.sla.deadlines.current_due, which sets due_at.
CURRENT_CLOCK = f"""CASE WHEN c.state = '{STATES.feedback}' THEN 'feedback'
  WHEN c.state IN ({sql_list([STATES.intake, STATES.triage])}) OR c.responded_at IS NULL THEN 'response'
  ELSE 'resolution' END"""

OVERDUE_COUNTS = f"""
SELECT c.jurisdiction_path AS path, {CURRENT_CLOCK} AS clock,
  SUM(CASE WHEN c.due_at < {{}} THEN 1 ELSE 0 END) AS overdue,
  SUM(CASE WHEN c.due_at >= {{}} THEN 1 ELSE 0 END) AS due_soon
FROM jiesu_case c WHERE {{where}}
GROUP BY c.jurisdiction_path, {CURRENT_CLOCK}
"""

OVERDUE_CASES = f"""
SELECT c.id, c.tracking_no, c.state, c.priority, c.category, c.jurisdiction_code, c.assignee,
  c.due_at, {CURRENT_CLOCK} AS clock, c.contact_name, c.contact_phone
FROM jiesu_case c WHERE {{where}}
ORDER BY c.due_at, c.id LIMIT {{limit}}
"""

LEVELS = ("district", "street", "community", "grid")


def open_cases(scope: Scope, soon: datetime) -> Where:
    where = Where().plus(f"c.state NOT IN ({sql_list(STATES.final)})").plus("c.due_at < {}", soon)
    return scope.apply(where)


async def overdue_report(scope: Scope, now: datetime, within: timedelta, limit: int) -> dict[str, Any]:
    where = open_cases(scope, now + within).plus(NOT_EXCLUDED)
    groups = await fetch(OVERDUE_COUNTS.format("{}", "{}", where=where.sql), now, now, *where.args)
    rows = await fetch(OVERDUE_CASES.format(where=where.sql, limit=int(limit)), *where.args)
    by_clock: dict[str, dict[str, int]] = {}
    for group in groups:
        counts = by_clock.setdefault(group["clock"], {"overdue": 0, "due_soon": 0})
        counts["overdue"] += int(group["overdue"])
        counts["due_soon"] += int(group["due_soon"])
    return {
        "now": now,
        "due_soon_within_hours": within.total_seconds() / 3600,
        "overdue": sum(c["overdue"] for c in by_clock.values()),
        "due_soon": sum(c["due_soon"] for c in by_clock.values()),
        "by_clock": by_clock,
        "by_level": await _by_level(groups),
        "cases": [_overdue_case(row, now) for row in rows],
    }


async def _by_level(groups: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Roll the per-path counts up every level of the tree (over the few groups, not the cases)."""
    totals: dict[str, dict[str, int]] = {}
    for group in groups:
        codes = [code for code in (group["path"] or "").split("/") if code] or [""]
        for code in codes:
            counts = totals.setdefault(code, {"overdue": 0, "due_soon": 0})
            counts["overdue"] += int(group["overdue"])
            counts["due_soon"] += int(group["due_soon"])
    codes = [code for code in totals if code]
    known = (
        await Jurisdiction.select(Jurisdiction.code, Jurisdiction.name, Jurisdiction.level).where(
            Jurisdiction.code.is_in(codes)
        )
        if codes
        else []
    )
    by_level: dict[str, list[dict[str, Any]]] = {level: [] for level in LEVELS}
    for row in known:
        by_level.setdefault(row["level"], []).append(
            {"code": row["code"], "name": row["name"], **totals[row["code"]]}
        )
    if "" in totals:
        by_level["unassigned"] = [{"code": None, "name": "no jurisdiction yet", **totals[""]}]
    for entries in by_level.values():
        entries.sort(key=lambda e: (-e["overdue"], -e["due_soon"], e["code"] or ""))
    return by_level


def _overdue_case(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    due = as_datetime(row["due_at"])
    return {
        "id": row["id"],
        "tracking_no": row["tracking_no"],
        "state": row["state"],
        "priority": row["priority"],
        "category": row["category"],
        "jurisdiction_code": row["jurisdiction_code"],
        "assignee": row["assignee"],
        "clock": row["clock"],
        "due_at": due,
        "overdue": due < now,
        "overdue_hours": round((now - due).total_seconds() / 3600, 2) if due < now else 0.0,
        "contact_name": mask_name(row["contact_name"]),
        "contact_phone": mask_phone(row["contact_phone"]),
    }


HOTSPOT_CLUSTERS = """
SELECT jurisdiction, category, current_count, previous_count FROM (
  SELECT c.jurisdiction_code AS jurisdiction, c.category AS category,
    SUM(CASE WHEN c.received_at >= {} THEN 1 ELSE 0 END) AS current_count,
    SUM(CASE WHEN c.received_at < {} THEN 1 ELSE 0 END) AS previous_count
  FROM jiesu_case c WHERE {where}
  GROUP BY c.jurisdiction_code, c.category
) clusters
WHERE current_count > previous_count
ORDER BY current_count - previous_count DESC, current_count DESC, jurisdiction, category
LIMIT {limit}
"""

REPEATED_ADDRESSES = """
SELECT MIN(c.address) AS address, MIN(c.jurisdiction_code) AS jurisdiction, COUNT(*) AS complaints,
  COUNT(DISTINCT c.category) AS categories, MIN(c.received_at) AS first_at, MAX(c.received_at) AS last_at
FROM jiesu_case c WHERE {where}
GROUP BY lower(trim(c.address))
HAVING COUNT(*) >= {repeat_min}
ORDER BY COUNT(*) DESC, MAX(c.received_at) DESC
LIMIT {limit}
"""


def window(scope: Scope, start: datetime, end: datetime) -> Where:
    return scope.apply(Where().plus("c.received_at >= {}", start).plus("c.received_at < {}", end))


async def hotspots_report(
    scope: Scope, now: datetime, days: int, top: int, repeat_min: int
) -> dict[str, Any]:
    current_start = now - timedelta(days=days)
    previous_start = current_start - timedelta(days=days)
    both = window(scope, previous_start, now).plus(NOT_EXCLUDED)
    current = window(scope, current_start, now).plus(NOT_EXCLUDED)
    clusters = await fetch(
        HOTSPOT_CLUSTERS.format("{}", "{}", where=both.sql, limit=int(top)),
        current_start,
        current_start,
        *both.args,
    )
    addresses = await fetch(
        REPEATED_ADDRESSES.format(where=current.sql, repeat_min=int(repeat_min), limit=int(top)),
        *current.args,
    )
    return {
        "window_days": days,
        "current_window": {"from": current_start, "to": now},
        "previous_window": {"from": previous_start, "to": current_start},
        "rising": [
            {
                "jurisdiction": row["jurisdiction"],
                "category": row["category"],
                "current": int(row["current_count"]),
                "previous": int(row["previous_count"]),
                "increase": int(row["current_count"]) - int(row["previous_count"]),
                "growth": round(int(row["current_count"]) / int(row["previous_count"]) - 1, 4)
                if int(row["previous_count"])
                else None,
            }
            for row in clusters
        ],
        "repeated_addresses": [
            {
                "address": row["address"],
                "jurisdiction": row["jurisdiction"],
                "complaints": int(row["complaints"]),
                "categories": int(row["categories"]),
                "first_at": as_datetime(row["first_at"]),
                "last_at": as_datetime(row["last_at"]),
            }
            for row in addresses
        ],
    }
