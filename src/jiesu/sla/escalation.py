"""Where an overdue case goes: one level up the jurisdiction it was filed in."""

from __future__ import annotations

from jiesu.case_record import CaseRecord


def escalation_target(case: CaseRecord) -> tuple[str, str | None] | None:
    """(level, unit code) one level above where the case stands now; None at the top."""
    codes = [part for part in (case.jurisdiction_path or "").split("/") if part]
    district = codes[0] if codes else None
    street = codes[1] if len(codes) > 1 else None
    current = case.escalation_level
    if current in (None, "") or current.startswith("department:"):
        return ("street", street) if street else ("district", district)
    if current == "street":
        return ("district", district)
    return None
