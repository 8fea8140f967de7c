"""Exclusions: a supervisor marks a case "unreasonable demand", with a reason, and the case's audit
chain records it in the same transaction. Exclusions are never removed and every report lists them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.audit.chain import append_event
from jiesu.cases.service import CaseService
from jiesu.db import is_unique_violation, write_transaction
from jiesu.errors import AlreadyExists
from jiesu.reports.sql import Where, as_datetime, fetch
from jiesu.reports.tables import Exclusion

EXCLUDE_ACTION = "exclude_from_reports"

LIST = """
SELECT x.case_id, c.tracking_no, c.jurisdiction_code, c.category, c.assignee, c.state,
  x.reason, x.excluded_by, x.excluded_at
FROM jiesu_report_exclusion x JOIN jiesu_case c ON c.id = x.case_id
WHERE {where}
ORDER BY x.excluded_at, x.case_id
"""


def already_excluded(case_id: int) -> AlreadyExists:
    return AlreadyExists(f"case_id: {case_id} is excluded already")


async def exclude_case(
    cases: CaseService, actor: Principal, case_id: int, reason: str, now: datetime
) -> dict[str, Any]:
    try:
        return await _exclude(cases, actor, case_id, reason, now)
    except Exception as exc:
        if is_unique_violation(exc):  # a concurrent exclusion of the same case won the race
            raise already_excluded(case_id) from exc
        raise


async def _exclude(
    cases: CaseService, actor: Principal, case_id: int, reason: str, now: datetime
) -> dict[str, Any]:
    async with write_transaction():
        case = await cases.get_visible(actor, case_id)
        if await Exclusion.exists().where(Exclusion.case_id == case_id):
            raise already_excluded(case_id)
        await Exclusion.insert(
            Exclusion(case_id=case_id, reason=reason, excluded_by=actor.username, excluded_at=now)
        )
        await append_event(
            case_id=case_id,
            actor=actor.username,
            actor_role=actor.role,
            action=EXCLUDE_ACTION,
            from_state=case.state,
            to_state=case.state,
            fields={"reason": reason, "kind": "unreasonable_demand"},
            at=now,
        )
    return {
        "case_id": case_id,
        "tracking_no": case.tracking_no,
        "reason": reason,
        "excluded_by": actor.username,
        "excluded_at": now,
    }


async def list_exclusions(where: Where) -> list[dict[str, Any]]:
    rows = await fetch(LIST.format(where=where.sql), *where.args)
    return [{**row, "excluded_at": as_datetime(row["excluded_at"])} for row in rows]
