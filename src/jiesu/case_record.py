"""The case as the core passes it around: one typed, immutable record of a ``jiesu_case`` row.

The routing, sla, mediation and cases domains all read a case; the record lives beside them, not in
``cases``, so that none has to import another to know its shape. A change makes a new record
(``replace``); ``changes_from`` gives the columns an UPDATE must write.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class CaseRecord:
    # what was filed, and through which channel
    id: int | None  # None until the case is inserted (the batched intake prepares it first)
    tracking_no: str
    kind: str
    channel: str
    category: str | None
    title: str
    description: str
    address: str
    # who filed it, and how to reach them
    filer: str | None
    contact_name: str
    contact_phone: str
    access_code_hash: str | None
    # where it is handled, and by whom
    jurisdiction_code: str | None
    jurisdiction_path: str | None
    assignee: str | None
    escalation_level: str | None
    # where it stands
    state: str
    version: int
    priority: str
    complexity: str
    outcome: str | None
    resolution_summary: str | None
    merged_into: int | None
    reopen_count: int
    filer_resolved: bool | None
    satisfaction: int | None
    # the clocks
    received_at: datetime
    updated_at: datetime
    response_due: datetime | None
    resolution_due: datetime | None
    feedback_due: datetime | None
    due_at: datetime | None
    responded_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    # the one extension of the resolution deadline
    extension_count: int
    extension_requested_until: datetime | None
    extension_requested_by: str | None
    extension_requested_at: datetime | None
    # a retried filing is answered, not filed twice
    idempotency_key: str | None
    request_hash: str | None

    @property
    def inserted_id(self) -> int:
        """The id of a case read from the table (a prepared filing has none yet)."""
        if self.id is None:
            raise ValueError(f"case {self.tracking_no} is not inserted yet")
        return self.id

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CaseRecord:
        """The record of a selected row (every column; extra keys, e.g. a join's, are left out)."""
        return cls(**{name: row[name] for name in FIELD_NAMES})

    def as_row(self) -> dict[str, Any]:
        """Column name to value, for an INSERT or an answer."""
        return {name: getattr(self, name) for name in FIELD_NAMES}

    def replace(self, **changes: Any) -> CaseRecord:
        return dataclasses.replace(self, **changes)

    def changes_from(self, before: CaseRecord) -> dict[str, Any]:
        """The columns whose value differs from ``before``."""
        return {
            name: getattr(self, name) for name in FIELD_NAMES if getattr(self, name) != getattr(before, name)
        }


FIELD_NAMES: tuple[str, ...] = tuple(field.name for field in dataclasses.fields(CaseRecord))
