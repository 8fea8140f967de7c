"""The keyed hash chain over every case event.

Each event's hash is HMAC-SHA256, under the audit key in force (``audit.keys``, kept outside the
database), over the previous event's hash and the canonical JSON of the event (sorted keys, no spaces,
UTF-8), its key id and the report columns it set included. Without the key nobody can append an event,
or rewrite one and recompute the hashes after it, so that ``verify_chain`` passes. The head row holds the
last sequence number, hash and the key in force; locking it with an UPDATE is what serialises appenders,
on SQLite and PostgreSQL alike, and lets a truncated tail show. Only this module touches the head:
``lock_head`` and ``append_after`` are the statements of an append, run by the batched intake inside its
batch and by every other write at the end of its transaction (``append_prepared``), so the head is
locked only briefly.

A key rotation is an event of the chain (action ``audit_key``, case 0) naming the new key's id, signed
with the key in force until then; the events after it are signed with the new key. Events written before
the chain was keyed (``key_id`` NULL: plain SHA-256, as before) are accepted only as the chain's first
events: the first append after the upgrade writes an ``audit_key`` event (``previous_key_id`` null)
whose HMAC covers the last of them, so from then on they can no more be rewritten than keyed ones.

Signed checkpoints (``write_checkpoint``: every N events and at shutdown) go to an append-only file
outside the database; ``verify`` checks the chain against the latest one, which catches a tail cut off
together with its head and a chain replaced wholesale.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jiesu.audit import keys as audit_keys
from jiesu.audit import seals as sealing
from jiesu.audit.checks import first_integrity_problem
from jiesu.audit.tables import AuditHead, CaseEvent, EventText
from jiesu.audit.texts import texts_by_seq
from jiesu.batch_writer import Query, Statements, insert_rows, name, run_in_current_transaction, table_name
from jiesu.db import before_commit, transaction_scratch, write_transaction

GENESIS_HASH = "0" * 64
VERIFY_BATCH = 5000
KEY_ACTION = "audit_key"  # a rotation of the audit key: fields {key_id, previous_key_id}
KEY_EVENT_CASE = 0  # the case id of events that belong to no case


# One encoder, made once: json.dumps with any option builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_json(value: Any) -> str:
    return _CANONICAL.encode(value)


def _canonical_event(event: dict[str, Any]) -> str:
    content = {
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
    if event.get("key_id") is not None:  # events before the keyed chain hashed exactly the above
        changes = event.get("changes")
        content.update(key_id=event["key_id"], changes=None if changes is None else json.loads(changes))
    return canonical_json(content)


def event_hash(prev_hash: str, event: dict[str, Any]) -> str:
    """HMAC-SHA256 under the event's key; plain SHA-256 for an event written before the chain was keyed."""
    message = prev_hash + _canonical_event(event)
    kid = event.get("key_id")
    if kid is None:
        return hashlib.sha256(message.encode()).hexdigest()
    return audit_keys.keyring_with(kid).mac(kid, message)


def _jsonable(value: Any) -> Any:
    return value.isoformat(timespec="microseconds") if isinstance(value, datetime) else value


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
    changes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An event as it will be written, personal text sealed; ``link_events`` numbers and signs it.

    ``changes`` are the case's report columns the event set, with their new values (datetimes as ISO
    text; none when omitted): what ``verify`` replays and the reports' copy is built from.
    """
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
        # None only in events written before events recorded their changes; {}: this event set none
        "changes": canonical_json({k: _jsonable(v) for k, v in (changes or {}).items()}),
        "texts": texts,
    }


def key_event(new_key_id: str, previous_key_id: str | None, at: datetime) -> dict[str, Any]:
    """The event that records a rotation to ``new_key_id`` (or the keying of an unkeyed history)."""
    return prepare_event(
        case_id=KEY_EVENT_CASE,
        actor="system",
        actor_role="system",
        action=KEY_ACTION,
        from_state=None,
        to_state="",
        fields={"key_id": new_key_id, "previous_key_id": previous_key_id},
        at=at,
    )


def _rotated_to(row: dict[str, Any]) -> str | None:
    if row["action"] != KEY_ACTION or row["case_id"] != KEY_EVENT_CASE:
        return None
    new = json.loads(row["fields"]).get("key_id")
    return new if isinstance(new, str) else None


def link_events(
    pending: list[dict[str, Any]], last_seq: int, last_hash: str, key_in_force: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str, str]:
    """Number and sign prepared events after the chain's head: (event rows, text rows, new head hash,
    key in force after them)."""
    rows, texts = [], []
    seq, prev_hash, kid = last_seq, last_hash, key_in_force
    for event in pending:
        seq += 1
        texts += [{"event_seq": seq, **text} for text in event["texts"]]
        row = {key: value for key, value in event.items() if key != "texts"}
        row.update(seq=seq, prev_hash=prev_hash, key_id=kid)
        row["hash"] = prev_hash = event_hash(prev_hash, row)
        rows.append(row)
        kid = _rotated_to(row) or kid
    return rows, texts, prev_hash, kid


@dataclass(frozen=True)
class Head:
    """The chain's last event: its sequence number and hash, and the key in force (None: not keyed yet)."""

    seq: int
    hash: str
    key_id: str | None = None


def _update_head(assignments: str) -> str:
    return f"UPDATE {table_name(AuditHead)} SET {assignments} WHERE {name(AuditHead.id)} = 1"


def lock_head() -> Statements[Head]:
    """Lock the head row until the end of the transaction and read it."""
    seq, digest, kid = name(AuditHead.seq), name(AuditHead.hash), name(AuditHead.key_id)
    rows = yield Query(f"{_update_head(f'{seq} = {seq}')} RETURNING {seq}, {digest}, {kid}")
    if not rows:
        raise RuntimeError("the audit head row is missing: run the migrations")
    return Head(rows[0][seq], rows[0][digest], rows[0][kid])


def _key_to_write_with(head: Head, at: datetime) -> tuple[str, list[dict[str, Any]]]:
    """The key to sign the next events with, and the rotation event to write first, if one is due.

    The chain names the key in force; the configured newest key replaces it only when it is newer (a
    process started before a rotation must not rotate back: it reads the key file again instead).
    """
    ring = audit_keys.keyring_with(head.key_id) if head.key_id else audit_keys.keyring()
    if head.key_id is None:
        if head.seq == 0:  # a new chain: its first event is signed with the newest key
            return ring.current, []
        # an unkeyed history: seal it with an event signed by the newest key
        return ring.current, [key_event(ring.current, None, at)]
    order = list(ring.keys)
    if head.key_id in order and order.index(head.key_id) < order.index(ring.current):
        return head.key_id, [key_event(ring.current, head.key_id, at)]
    return head.key_id, []


def append_after(head: Head, pending: list[dict[str, Any]]) -> Statements[Head]:
    """Number, sign and write prepared events after ``head`` (locked by ``lock_head``); move the head."""
    if not pending:
        return head
    kid, rotation = _key_to_write_with(head, datetime.now(UTC))
    events, texts, head_hash, in_force = link_events(rotation + pending, head.seq, head.hash, kid)
    yield insert_rows(CaseEvent, events)
    if texts:
        yield insert_rows(EventText, texts)
    moved = Head(events[-1]["seq"], head_hash, in_force)
    assignments = f"{name(AuditHead.seq)} = ?, {name(AuditHead.hash)} = ?, {name(AuditHead.key_id)} = ?"
    yield Query(_update_head(assignments), [moved.seq, moved.hash, moved.key_id])
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
    changes: dict[str, Any] | None = None,
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
        changes=changes,
    )
    append_prepared(event)


def append_prepared(event: dict[str, Any]) -> None:
    transaction_scratch().setdefault("audit_events", []).append(event)
    before_commit(_chain_pending_events)


def _append(pending: list[dict[str, Any]]) -> Statements[Head]:
    head = yield from lock_head()
    return (yield from append_after(head, pending))


async def _chain_pending_events() -> None:
    """Lock the head, sign the transaction's events in order, write them and the new head."""
    pending = transaction_scratch().pop("audit_events", [])
    if pending:
        await run_in_current_transaction(_append(pending))


def _rotate(at: datetime) -> Statements[Head]:
    head = yield from lock_head()
    kid, rotation = _key_to_write_with(head, at)
    if not rotation:
        if head.key_id != kid:
            yield Query(_update_head(f"{name(AuditHead.key_id)} = ?"), [kid])
        return Head(head.seq, head.hash, kid)
    events, _, head_hash, in_force = link_events(rotation, head.seq, head.hash, kid)
    yield insert_rows(CaseEvent, events)
    moved = Head(events[-1]["seq"], head_hash, in_force)
    assignments = f"{name(AuditHead.seq)} = ?, {name(AuditHead.hash)} = ?, {name(AuditHead.key_id)} = ?"
    yield Query(_update_head(assignments), [moved.seq, moved.hash, moved.key_id])
    return moved


async def record_key_in_force() -> Head:
    """At start (and after ``jiesu audit rotate-key``): record in the chain the newest configured key,
    with a rotation event when it replaces an older key or keys an unkeyed history."""
    head: Head | None = None
    async with write_transaction():
        head = await run_in_current_transaction(_rotate(datetime.now(UTC)))
    return head


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_broken_seq: int | None = None
    reason: str | None = None
    legacy_events: int = 0  # events written before the chain was keyed (plain SHA-256)
    key_id: str | None = None  # the key in force at the end of the chain
    checkpoint: str | None = None  # the checkpoint the chain was checked against, if any


def _key_problem(event: dict[str, Any], in_force: str | None) -> str | None:
    kid = event["key_id"]
    if kid is None:
        if in_force is not None:
            return (
                f"the event carries no key id although key {in_force} is in force (written without the key)"
            )
        return None
    if in_force is not None and kid != in_force:
        return f"the event is signed with key {kid} but key {in_force} is in force (no rotation recorded)"
    ring = audit_keys.keyring_with(kid)
    if kid not in ring.keys:
        return f"the event is signed with key {kid}, which is not configured ({ring.source})"
    return None


async def verify_chain() -> ChainReport:
    """Recompute the chain from the first event, each event with the key in force, then run the
    registered integrity checks; name the first broken link."""
    report = await verify_links()
    return await _with_integrity_checks(report) if report.ok else report


async def _with_integrity_checks(report: ChainReport) -> ChainReport:
    protected = await first_integrity_problem()
    if protected is None:
        return report
    return ChainReport(
        **{**report.__dict__, "ok": False, "first_broken_seq": protected.seq, "reason": protected.reason}
    )


async def verify_links() -> ChainReport:
    """The chain alone: every link, every HMAC with the key in force, the head."""
    head = (
        await AuditHead.select(AuditHead.seq, AuditHead.hash, AuditHead.key_id)
        .where(AuditHead.id == 1)
        .first()
    )
    head_seq, head_hash, head_key = (
        (head["seq"], head["hash"], head["key_id"]) if head else (0, GENESIS_HASH, None)
    )
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    in_force: str | None = None
    legacy = 0
    erased_cases = {
        row["case_id"]
        for row in await CaseEvent.select(CaseEvent.case_id).where(CaseEvent.action == sealing.ERASURE_ACTION)
    }

    def broken(seq: int, reason: str) -> ChainReport:
        return ChainReport(False, checked, head_seq, head_hash, seq, reason, legacy, in_force)

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
            elif problem := _key_problem(event, in_force):
                pass
            elif event_hash(prev_hash, event) != event["hash"]:
                problem = (
                    "the event's content does not match its hash (edited)"
                    if event["key_id"] is None
                    else "the event's content does not match its HMAC (edited, or written without the key)"
                )
            else:
                problem = sealing.seal_problem(event, texts.get(event["seq"], {}), erased_cases)
            if problem:
                return broken(expected_seq, problem)
            legacy += event["key_id"] is None
            in_force = _rotated_to(event) or event["key_id"] or in_force
            prev_hash, expected_seq, checked = event["hash"], expected_seq + 1, checked + 1
        if len(batch) < VERIFY_BATCH:
            break
    if checked != head_seq or prev_hash != head_hash:
        return broken(
            checked + 1, f"the chain ends at event {checked} but the head records {head_seq} (truncated)"
        )
    if in_force is not None and head_key != in_force:
        return broken(head_seq, f"the head names key {head_key} but the chain's key in force is {in_force}")
    return ChainReport(True, checked, head_seq, head_hash, legacy_events=legacy, key_id=in_force)


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


async def verify_with_checkpoint(checkpoint: Checkpoint, described: str | None = None) -> ChainReport:
    """Verify the chain, then that it still holds the checkpointed event unchanged.

    A tail cut off together with the head row still forms a valid chain; only a head kept elsewhere
    shows that events the chain once held are gone.
    """
    report = await verify_links()
    used = {"checkpoint": described or str(checkpoint)}
    if not report.ok:
        return ChainReport(**{**report.__dict__, **used})
    if report.head_seq < checkpoint.seq:
        return ChainReport(
            **{
                **report.__dict__,
                **used,
                "ok": False,
                "first_broken_seq": report.head_seq + 1,
                "reason": f"the chain ends at event {report.head_seq} but the checkpoint holds event "
                f"{checkpoint.seq} (truncated)",
            }
        )
    found: str | None
    if checkpoint.seq == 0:
        found = GENESIS_HASH
    else:
        row = await CaseEvent.select(CaseEvent.hash).where(CaseEvent.seq == checkpoint.seq).first()
        found = str(row["hash"]) if row else None
    if found != checkpoint.hash:
        return ChainReport(
            **{
                **report.__dict__,
                **used,
                "ok": False,
                "first_broken_seq": checkpoint.seq,
                "reason": f"event {checkpoint.seq} does not match the checkpoint (history rewritten)",
            }
        )
    return await _with_integrity_checks(ChainReport(**{**report.__dict__, **used}))


# ---- signed checkpoints in a file outside the database ------------------------------------------


def _checkpoint_message(entry: dict[str, Any]) -> str:
    return f"jiesu audit checkpoint|{entry['seq']}|{entry['hash']}|{entry['key_id']}|{entry['at']}"


@dataclass(frozen=True)
class SignedCheckpoint:
    """One line of the checkpoint file: the head at ``at``, signed with the key ``key_id``."""

    line: int
    checkpoint: Checkpoint
    key_id: str
    at: str
    problem: str | None = None  # set when the line is not a checkpoint signed with a configured key


def _read_entry(line_no: int, text: str) -> SignedCheckpoint:
    try:
        entry = json.loads(text)
        checkpoint = Checkpoint.parse(f"{entry['seq']}:{entry['hash']}")
        kid, at, mac = str(entry["key_id"]), str(entry["at"]), str(entry["mac"])
    except (ValueError, KeyError, TypeError):
        return SignedCheckpoint(line_no, Checkpoint(0, GENESIS_HASH), "", "", "is not a checkpoint")
    signed = SignedCheckpoint(line_no, checkpoint, kid, at)
    ring = audit_keys.keyring_with(kid)
    if kid not in ring.keys:
        return SignedCheckpoint(line_no, checkpoint, kid, at, f"is signed with key {kid}, not configured")
    if not hmac.compare_digest(ring.mac(kid, _checkpoint_message(entry)), mac):
        return SignedCheckpoint(line_no, checkpoint, kid, at, "has a signature that does not match (forged)")
    return signed


def latest_checkpoint(path: Path) -> SignedCheckpoint | None:
    """The last line of the checkpoint file, checked; None when there is no checkpoint yet."""
    if not path.exists():
        return None
    lines = [(n, text) for n, text in enumerate(path.read_text().splitlines(), 1) if text.strip()]
    return _read_entry(*lines[-1]) if lines else None


def _append_line(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (text + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


async def write_checkpoint(path: Path, at: datetime | None = None) -> Checkpoint:
    """Append the head, signed with the key in force, to the checkpoint file."""
    row = (
        await AuditHead.select(AuditHead.seq, AuditHead.hash, AuditHead.key_id)
        .where(AuditHead.id == 1)
        .first()
    )
    seq, digest = (row["seq"], row["hash"]) if row else (0, GENESIS_HASH)
    ring = audit_keys.keyring()
    kid = (row["key_id"] if row else None) or ring.current
    entry: dict[str, Any] = {
        "seq": seq,
        "hash": digest,
        "key_id": kid,
        "at": (at or datetime.now(UTC)).isoformat(timespec="seconds"),
    }
    entry["mac"] = audit_keys.keyring_with(kid).mac(kid, _checkpoint_message(entry))
    _append_line(path, canonical_json(entry))
    return Checkpoint(seq, digest)


@dataclass
class CheckpointWriter:
    """Writes a signed checkpoint once ``every`` events were appended since the last one (0: only at
    shutdown), and at shutdown; the server runs ``tick`` periodically."""

    path: Path
    every: int
    last_seq: int | None = field(default=None)

    async def _head_seq(self) -> int:
        row = await AuditHead.select(AuditHead.seq).where(AuditHead.id == 1).first()
        return int(row["seq"]) if row else 0

    def _last(self) -> int:
        if self.last_seq is None:
            latest = latest_checkpoint(self.path)
            self.last_seq = latest.checkpoint.seq if latest and latest.problem is None else -1
        return self.last_seq

    async def tick(self) -> None:
        if self.every > 0 and await self._head_seq() - self._last() >= self.every:
            self.last_seq = (await write_checkpoint(self.path)).seq

    async def at_shutdown(self) -> None:
        if await self._head_seq() != self._last():
            self.last_seq = (await write_checkpoint(self.path)).seq


async def verify(checkpoint_text: str | None, checkpoint_file: Path) -> ChainReport:
    """What ``jiesu audit verify`` and ``GET /api/audit/verify`` answer: the chain checked against the
    given ``SEQ:HASH``, else against the latest signed checkpoint of the file (raises ValueError for a
    malformed ``checkpoint_text``)."""
    if checkpoint_text is not None:
        return await verify_with_checkpoint(Checkpoint.parse(checkpoint_text))
    latest = latest_checkpoint(checkpoint_file)
    if latest is None:
        return await verify_chain()
    described = f"{latest.checkpoint} ({checkpoint_file} line {latest.line}, {latest.at})"
    if latest.problem is not None:
        report = await verify_chain()
        return ChainReport(
            **{
                **report.__dict__,
                "ok": False,
                "checkpoint": described,
                "first_broken_seq": latest.checkpoint.seq,
                "reason": f"the latest checkpoint ({checkpoint_file} line {latest.line}) {latest.problem}",
            }
        )
    return await verify_with_checkpoint(latest.checkpoint, described)
