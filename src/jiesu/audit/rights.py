"""The events of a person's cases, for residents' rights (jiesu.rights): their export, and the erasure of
their personal text (the sealed values, audit/seals.py), which leaves the chain verifiable."""

from __future__ import annotations

import json
from typing import Any

from jiesu.audit.tables import CaseEvent
from jiesu.audit.texts import erase_texts, reveal_events
from jiesu.case_record import CaseRecord
from jiesu.privacy import DataSubject

EXPORTED_EVENT_COLUMNS = (
    "seq",
    "case_id",
    "actor",
    "actor_role",
    "action",
    "from_state",
    "to_state",
    "fields",
    "created_at",
)


async def export_events(subject: DataSubject) -> list[dict[str, Any]]:
    events = await reveal_events(
        await CaseEvent.select()
        .where(CaseEvent.case_id.is_in(subject.case_ids or [0]))
        .order_by(CaseEvent.seq)
    )
    return [
        {k: (json.loads(e[k]) if k == "fields" else e[k]) for k in EXPORTED_EVENT_COLUMNS} for e in events
    ]


async def erase_case_texts(case: CaseRecord) -> None:
    seqs = await CaseEvent.select(CaseEvent.seq).where(CaseEvent.case_id == case.id)
    await erase_texts(row["seq"] for row in seqs)
