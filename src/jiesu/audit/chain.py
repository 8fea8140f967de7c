"""The SHA-256 hash chain over every case event.

Each event's hash is SHA-256 over the previous event's hash and the canonical JSON of the event
(sorted keys, no spaces, UTF-8). The head row holds the last sequence number and hash; bumping it with
an UPDATE is what serialises appenders, on SQLite and PostgreSQL alike, and lets a truncated tail
show. Events are chained at the end of their transaction, so the head is locked only briefly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jiesu.audit import seals as sealing
from jiesu.audit.tables import AuditHead, CaseEvent
from jiesu.db import before_commit, transaction_scratch

GENESIS_HASH = "0" * 64
VERIFY_BATCH = 5000


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _canonical_event(event: dict[str, Any]) -> str:
    actor, fields = sealing.hashed_view(event, json.loads(event["fields"]))
    return canonical_json(
        {
            "seq": event["seq"],
            "case_id": event["case_id"],
            "actor": actor,
            "actor_role": event["actor_role"],
            "action": event["action"],
            "from_state": event["from_state"],
            "to_state": event["to_state"],
            "fields": fields,
            "created_at": event["created_at"],
        }
    )


def event_hash(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + _canonical_event(event)).encode()).hexdigest()


async def append_event(
    *,
    case_id: int,
    actor: str,
    actor_role: str,
    action: str,
    from_state: str | None,
    to_state: str,
    fields: dict[str, Any],
    at: datetime,
) -> None:
    """Record one event of the current write transaction; it is chained just before COMMIT."""
    pending = transaction_scratch().setdefault("audit_events", [])
    pending.append(
        {
            "case_id": case_id,
            "actor": actor,
            "actor_role": actor_role,
            "action": action,
            "from_state": from_state,
            "to_state": to_state,
            "fields": canonical_json(fields),
            "created_at": at.isoformat(timespec="microseconds"),
            "seals": canonical_json(sealing.seal_event(actor, actor_role, fields)),
        }
    )
    before_commit(_chain_pending_events)


async def _chain_pending_events() -> None:
    """Bump the head by the number of events (this locks it), hash them in order, write them."""
    pending = transaction_scratch().pop("audit_events", [])
    if not pending:
        return
    bumped = (
        await AuditHead.update({AuditHead.seq: AuditHead.seq + len(pending)}, use_auto_update=False)
        .where(AuditHead.id == 1)
        .returning(AuditHead.seq, AuditHead.hash)
    )
    if not bumped:
        raise RuntimeError("the audit head row is missing: run the migrations")
    prev_hash, seq = bumped[0]["hash"], bumped[0]["seq"] - len(pending)
    rows = []
    for event in pending:
        seq += 1
        event.update(seq=seq, prev_hash=prev_hash)
        event["hash"] = prev_hash = event_hash(prev_hash, event)
        rows.append(CaseEvent(**event))
    await CaseEvent.insert(*rows)
    await AuditHead.update({AuditHead.hash: prev_hash}).where(AuditHead.id == 1)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None = None
    reason: str | None = None


async def verify_chain() -> ChainReport:
    """Recompute the chain from the first event; name the first broken link."""
    head = await AuditHead.select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).first()
    head_seq, head_hash = (head["seq"], head["hash"]) if head else (0, GENESIS_HASH)
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    erased_cases = {
        row["case_id"]
        for row in await CaseEvent.select(CaseEvent.case_id).where(CaseEvent.action == sealing.ERASURE_ACTION)
    }
    while True:
        batch = (
            await CaseEvent.select()
            .where(CaseEvent.seq >= expected_seq)
            .order_by(CaseEvent.seq)
            .limit(VERIFY_BATCH)
        )
        for event in batch:
            problem = None
            if event["seq"] != expected_seq:
                problem = f"event {expected_seq} is missing (next found: {event['seq']})"
            elif event["prev_hash"] != prev_hash:
                problem = "prev_hash does not match the hash of the event before"
            elif event_hash(prev_hash, event) != event["hash"]:
                problem = "the event's content does not match its hash (edited)"
            else:
                problem = sealing.seal_problem(event, erased_cases)
            if problem:
                return ChainReport(False, checked, head_seq, head_hash, expected_seq, problem)
            prev_hash, expected_seq, checked = event["hash"], expected_seq + 1, checked + 1
        if len(batch) < VERIFY_BATCH:
            break
    if checked != head_seq or prev_hash != head_hash:
        return ChainReport(
            False,
            checked,
            head_seq,
            head_hash,
            checked + 1,
            f"the chain ends at event {checked} but the head records {head_seq} (truncated)",
        )
    from jiesu.mediation.integrity import check_frozen_agreements

    agreement_problem = await check_frozen_agreements()
    if agreement_problem:
        seq, reason = agreement_problem.seq, agreement_problem.reason
        return ChainReport(False, checked, head_seq, head_hash, seq, reason)
    return ChainReport(True, checked, head_seq, head_hash)
