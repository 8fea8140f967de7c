"""Frozen agreements against the audit chain.

The event that froze an agreement (action ``agreement_freeze``) records the SHA-256 of the canonical text
every party signed; the chain protects that event. Verification recomputes the hash of each frozen
agreement's stored text and compares it with the hash in its freeze event, so an agreement edited in the
database (text, hash column or status) shows as broken at that event. The check is registered with
audit (``register_with_audit``) when the app or the command line starts. The text itself is not carried in
the event: events are read by everyone who sees the case, and the agreement names the parties.
"""

from __future__ import annotations

import hashlib
import json

from jiesu.audit.checks import IntegrityProblem, register_integrity_check
from jiesu.audit.tables import CaseEvent
from jiesu.mediation.tables import Agreement

FREEZE_ACTION = "agreement_freeze"


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


async def check_frozen_agreements() -> IntegrityProblem | None:
    """The first freeze event whose agreement no longer matches what was signed, if any."""
    events = (
        await CaseEvent.select(CaseEvent.seq, CaseEvent.case_id, CaseEvent.fields)
        .where(CaseEvent.action == FREEZE_ACTION)
        .order_by(CaseEvent.seq)
    )
    if not events:
        return None
    ids = [json.loads(event["fields"])["agreement_id"] for event in events]
    rows = {
        row["id"]: row
        for row in await Agreement.select(
            Agreement.id, Agreement.case_id, Agreement.status, Agreement.content, Agreement.content_hash
        ).where(Agreement.id.is_in(ids))
    }
    for event, agreement_id in zip(events, ids, strict=True):
        recorded = json.loads(event["fields"])["sha256"]
        row = rows.get(agreement_id)
        where = f"frozen agreement {agreement_id} of case {event['case_id']}"
        if row is None or row["case_id"] != event["case_id"]:
            return IntegrityProblem(event["seq"], f"{where} is missing")
        if row["status"] not in ("frozen", "superseded"):
            return IntegrityProblem(event["seq"], f"{where} is no longer marked frozen (edited)")
        if content_hash(row["content"]) != recorded or row["content_hash"] != recorded:
            return IntegrityProblem(
                event["seq"], f"{where} does not match the SHA-256 recorded when it was signed (edited)"
            )
    return None


def register_with_audit() -> None:
    """Make every verification of the audit chain check the frozen agreements too."""
    register_integrity_check("mediation.frozen_agreements", check_frozen_agreements)
