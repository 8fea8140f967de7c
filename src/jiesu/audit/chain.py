"""The SHA-256 hash chain over every case event.

Each event's hash is SHA-256 over the previous event's hash and the canonical JSON of the event
(sorted keys, no spaces, UTF-8). The head row holds the last sequence number and hash; locking it with
an UPDATE is what serialises appenders, on SQLite and PostgreSQL alike, and lets a truncated tail
show. Only this module touches the head: ``lock_head`` and ``append_after`` are the statements of an
append, run by the batched intake inside its batch and by every other write at the end of its
transaction (``append_prepared``), so the head is locked only briefly.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jiesu.audit import seals as sealing
from jiesu.audit.checks import first_integrity_problem
from jiesu.audit.tables import AuditHead, CaseEvent, EventText
from jiesu.audit.texts import texts_by_seq
from jiesu.batch_writer import Query, Statements, insert_rows, name, run_in_current_transaction, table_name
from jiesu.db import before_commit, transaction_scratch

GENESIS_HASH = "0" * 64
VERIFY_BATCH = 5000


# One encoder, made once: json.dumps with any option builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


def _canonical_event(event: dict[str, Any]) -> str:
    return canonical_json(
        {
            "seq": event["seq"],
            "case_id": event["case_id"],
            "actor": event["actor"],
            "actor_role": event["actor_role"],
            "action": event["action"],
            "from_state": event["from_state"],
            "to_state": event["to_state"],
            "fields": json.loads(event["fields"]),
            "created_at": event["created_at"],
        }
    )


def event_hash(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256((prev_hash + _canonical_event(event)).encode()).hexdigest()


def prepare_event(
    *,
    case_id: int | None,
    actor: str,
    actor_role: str,
    action: str,
    from_state: str | None,
    to_state: str,
    fields: dict[str, Any],
    at: datetime,
) -> dict[str, Any]:
    """An event as it will be written, personal text sealed; ``link_events`` numbers and hashes it."""
    written_actor, written_fields, texts = sealing.seal_event(actor, actor_role, fields, action)
    return {
        "case_id": case_id,
        "actor": written_actor,
        "actor_role": actor_role,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "fields": canonical_json(written_fields),
        "created_at": at.isoformat(timespec="microseconds"),
        "texts": texts,
    }


def link_events(
    pending: list[dict[str, Any]], last_seq: int, last_hash: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """Number and hash prepared events after the chain's head: (event rows, text rows, new head hash)."""
    rows, texts = [], []
    seq, prev_hash = last_seq, last_hash
    for event in pending:
        seq += 1
        texts += [{"event_seq": seq, **text} for text in event["texts"]]
        row = {key: value for key, value in event.items() if key != "texts"}
        row.update(seq=seq, prev_hash=prev_hash)
        row["hash"] = prev_hash = event_hash(prev_hash, row)
        rows.append(row)
    return rows, texts, prev_hash


@dataclass(frozen=True)
class Head:
    """The chain's last event: its sequence number and hash."""

    seq: int
    hash: str


def _update_head(assignments: str) -> str:
    return f"UPDATE {table_name(AuditHead)} SET {assignments} WHERE {name(AuditHead.id)} = 1"


def lock_head() -> Statements[Head]:
    """Lock the head row until the end of the transaction and read it."""
    seq, digest = name(AuditHead.seq), name(AuditHead.hash)
    rows = yield Query(f"{_update_head(f'{seq} = {seq}')} RETURNING {seq}, {digest}")
    if not rows:
        raise RuntimeError("the audit head row is missing: run the migrations")
    return Head(rows[0][seq], rows[0][digest])


def append_after(head: Head, pending: list[dict[str, Any]]) -> Statements[Head]:
    """Number, hash and write prepared events after ``head`` (locked by ``lock_head``); move the head."""
    if not pending:
        return head
    events, texts, head_hash = link_events(pending, head.seq, head.hash)
    yield insert_rows(CaseEvent, events)
    if texts:
        yield insert_rows(EventText, texts)
    moved = Head(events[-1]["seq"], head_hash)
    assignments = f"{name(AuditHead.seq)} = ?, {name(AuditHead.hash)} = ?"
    yield Query(_update_head(assignments), [moved.seq, moved.hash])
    return moved


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
    event = prepare_event(
        case_id=case_id,
        actor=actor,
        actor_role=actor_role,
        action=action,
        from_state=from_state,
        to_state=to_state,
        fields=fields,
        at=at,
    )
    append_prepared(event)


def append_prepared(event: dict[str, Any]) -> None:
    transaction_scratch().setdefault("audit_events", []).append(event)
    before_commit(_chain_pending_events)


def _append(pending: list[dict[str, Any]]) -> Statements[Head]:
    head = yield from lock_head()
    return (yield from append_after(head, pending))


async def _chain_pending_events() -> None:
    """Lock the head, hash the transaction's events in order, write them and the new head."""
    pending = transaction_scratch().pop("audit_events", [])
    if pending:
        await run_in_current_transaction(_append(pending))


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
        texts = await texts_by_seq(e["seq"] for e in batch)
        for event in batch:
            problem = None
            if event["seq"] != expected_seq:
                problem = f"event {expected_seq} is missing (next found: {event['seq']})"
            elif event["prev_hash"] != prev_hash:
                problem = "prev_hash does not match the hash of the event before"
            elif event_hash(prev_hash, event) != event["hash"]:
                problem = "the event's content does not match its hash (edited)"
            else:
                problem = sealing.seal_problem(event, texts.get(event["seq"], {}), erased_cases)
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
    protected = await first_integrity_problem()
    if protected:
        return ChainReport(False, checked, head_seq, head_hash, protected.seq, protected.reason)
    return ChainReport(True, checked, head_seq, head_hash)


@dataclass(frozen=True)
class Checkpoint:
    """The head of the chain at some moment, kept elsewhere: ``SEQ:HASH``."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        seq, _, digest = text.strip().partition(":")
        if not seq.isdigit() or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError("a checkpoint is SEQ:HASH, e.g. 42:<64 hex digits>")
        return cls(int(seq), digest)


async def head_checkpoint() -> Checkpoint:
    head = await AuditHead.select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).first()
    return Checkpoint(head["seq"], head["hash"]) if head else Checkpoint(0, GENESIS_HASH)


async def verify_with_checkpoint(checkpoint: Checkpoint) -> ChainReport:
    """Verify the chain, then that it still holds the checkpointed event unchanged.

    A tail cut off together with the head row still forms a valid chain; only a head kept elsewhere
    shows that events the chain once held are gone.
    """
    report = await verify_chain()
    if not report.ok:
        return report
    if report.head_seq < checkpoint.seq:
        return ChainReport(
            False,
            report.checked,
            report.head_seq,
            report.head_hash,
            report.head_seq + 1,
            f"the chain ends at event {report.head_seq} but the checkpoint holds event "
            f"{checkpoint.seq} (truncated)",
        )
    found: str | None
    if checkpoint.seq == 0:
        found = GENESIS_HASH
    else:
        row = await CaseEvent.select(CaseEvent.hash).where(CaseEvent.seq == checkpoint.seq).first()
        found = str(row["hash"]) if row else None
    if found != checkpoint.hash:
        return ChainReport(
            False,
            report.checked,
            report.head_seq,
            report.head_hash,
            checkpoint.seq,
            f"event {checkpoint.seq} does not match the checkpoint (history rewritten)",
        )
    return report
