"""Personal data: masking for roles that do not need it, and whose data an export is about."""

from __future__ import annotations

from dataclasses import dataclass

from jiesu.case_record import CaseRecord

# What erased personal data reads as, wherever it was kept (cases, accounts, the audit log's texts, ...).
ERASED = "[erased]"


@dataclass(frozen=True)
class DataSubject:
    """Whose data an export is: a resident (``username``), or the anonymous filer of one case (None);
    ``cases`` are the case rows they filed. Each domain's export hook (jiesu.rights.registry) takes one."""

    username: str | None
    cases: list[CaseRecord]

    @property
    def case_ids(self) -> list[int]:
        return [case.inserted_id for case in self.cases]


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    if len(digits) <= 7:
        return "****"
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_name(name: str) -> str:
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""
