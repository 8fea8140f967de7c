"""What a case holds about the person who filed it, for residents' rights (jiesu.rights).

Anonymisation replaces names, phones and free text with ERASED and keeps every figure (kind, category,
jurisdiction, states, times, outcome, satisfaction) so the rates stay right.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jiesu.case_record import CaseRecord
from jiesu.cases.queries import case_by_id, records
from jiesu.cases.tables import Case
from jiesu.privacy import ERASED, DataSubject

PERSONAL_CASE_COLUMNS = ("title", "description", "address", "contact_name", "contact_phone")
INTERNAL_CASE_COLUMNS = ("idempotency_key", "request_hash", "access_code_hash")
DEPARTMENT = "department:"  # an escalation to a department, named in free text (CaseService._effects)


async def filed_by(username: str) -> list[CaseRecord]:
    return records(await Case.select().where(Case.filer == username).order_by(Case.id))


async def filed_case(case_id: int) -> CaseRecord | None:
    return await case_by_id(case_id)


async def open_cases_filed_by(username: str) -> list[int]:
    rows = await Case.select(Case.id).where((Case.filer == username) & (Case.state != "closed"))
    return [row["id"] for row in rows]


async def closed_before(cutoff: datetime, after: int, limit: int) -> list[int]:
    """Ids above ``after`` of the cases closed before ``cutoff``, in order, at most ``limit``."""
    rows = (
        await Case.select(Case.id)
        .where((Case.state == "closed") & (Case.closed_at < cutoff) & (Case.id > after))
        .order_by(Case.id)
        .limit(limit)
    )
    return [row["id"] for row in rows]


async def anonymise(case: CaseRecord, at: datetime) -> bool:
    """Erase the case's personal data and its link to the filer's account; False when the case changed
    since ``case`` was read (nothing is written then)."""
    changes: dict[Any, Any] = {getattr(Case, column): ERASED for column in PERSONAL_CASE_COLUMNS}
    if case.resolution_summary is not None:
        changes[Case.resolution_summary] = ERASED
    if (case.escalation_level or "").startswith(DEPARTMENT):  # free text: the department's name
        changes[Case.escalation_level] = DEPARTMENT + ERASED
    changes[Case.filer] = None
    changes[Case.version] = Case.version + 1
    changes[Case.updated_at] = at
    written = (
        await Case.update(changes)
        .where((Case.id == case.id) & (Case.version == case.version))
        .returning(Case.id)
    )
    return bool(written)


async def export_cases(subject: DataSubject) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in case.as_row().items() if k not in INTERNAL_CASE_COLUMNS} for case in subject.cases
    ]
