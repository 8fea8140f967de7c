"""The written agreement: drafts and revisions, signatures, and the freeze when every party has signed.

Also how an agreement reads: its signatures, the judicial-confirmation countdown and the next check due.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.audit.chain import canonical_json
from jiesu.errors import field_error
from jiesu.mediation import schemas as s
from jiesu.mediation.base import IN_MEDIATION, Room, Viewer, current_agreement, days_left, parties_of
from jiesu.mediation.config import MediationClocks
from jiesu.mediation.integrity import FREEZE_ACTION, content_hash
from jiesu.mediation.sessions import require_running
from jiesu.mediation.tables import Agreement, Mediation, PerformanceCheck, Signature
from jiesu.notify.outbox import enqueue

FROZEN_ALREADY = "the agreement is signed by every party and frozen"


def countdown(due: datetime, now: datetime) -> s.Countdown:
    return s.Countdown(due=due, days_left=days_left(due, now), expired=due < now)


def confirmation_window(
    agreement: dict[str, Any], clocks: MediationClocks, now: datetime
) -> s.Countdown | None:
    """The window to apply for judicial confirmation, from signing until applied for."""
    if agreement["frozen_at"] is None or agreement["confirmation_applied_at"] is not None:
        return None
    return countdown(agreement["frozen_at"] + clocks.judicial_confirmation, now)


def next_check(agreement: dict[str, Any], checks: list[dict[str, Any]]) -> date | None:
    """The earliest agreed date whose term has no check saying it was performed."""
    if agreement["status"] != "frozen":
        return None
    content = agreement["content"]
    done = {c["term_index"] for c in checks if c["result"] == "performed"}
    if None in done:
        return None
    dates = [
        date.fromisoformat(term.get("due_on") or content["performance_deadline"])
        for index, term in enumerate(content["terms"])
        if index not in done
    ]
    return min(dates) if dates else None


async def agreement_now(case_id: int) -> dict[str, Any]:
    """The agreement just written in this transaction."""
    agreement = await current_agreement(case_id)
    assert agreement is not None
    return agreement


async def agreement_out(agreement: dict[str, Any], clocks: MediationClocks, now: datetime) -> s.AgreementOut:
    """The agreement with its signatures (current or on an earlier revision), countdown and checks."""
    signatures = (
        await Signature.select().where(Signature.agreement_id == agreement["id"]).order_by(Signature.id)
    )
    digest = agreement["content_hash"]
    current = {sig["party_id"] for sig in signatures if sig["content_hash"] == digest}
    checks = (
        await PerformanceCheck.select()
        .where(PerformanceCheck.agreement_id == agreement["id"])
        .order_by(PerformanceCheck.id)
    )
    return s.AgreementOut(
        **{k: agreement[k] for k in s.AgreementOut.model_fields if k in agreement},
        signatures=[
            s.SignatureOut(
                party_id=sig["party_id"],
                method=sig["method"],
                at=sig["at"],
                current=sig["content_hash"] == digest,
            )
            for sig in signatures
        ],
        unsigned_party_ids=[p["id"] for p in agreement["content"]["parties"] if p["id"] not in current],
        judicial_confirmation=confirmation_window(agreement, clocks, now),
        checks=[s.CheckOut(**check) for check in checks],
        next_check_on=next_check(agreement, checks),
    )


async def signatures_for_document(agreement: dict[str, Any]) -> list[dict[str, Any]]:
    """The signatures on the agreement's current text, as the printed document lists them."""
    return (
        await Signature.select()
        .where(
            (Signature.agreement_id == agreement["id"])
            & (Signature.content_hash == agreement["content_hash"])
        )
        .order_by(Signature.id)
    )


async def _signed(agreement_id: int, digest: str) -> set[int]:
    rows = await Signature.select(Signature.party_id).where(
        (Signature.agreement_id == agreement_id) & (Signature.content_hash == digest)
    )
    return {row["party_id"] for row in rows}


class Agreements(Room):
    async def write_agreement(self, actor: Principal, case_id: int, data: s.AgreementWrite) -> dict[str, Any]:
        """Draft or revise the agreement; signatures on an earlier revision no longer count."""
        now = self.now()
        async with self.managing(actor, case_id, IN_MEDIATION) as viewer:
            parties = await require_running(self, viewer)
            current = await current_agreement(case_id)
            if current is not None and current["status"] == "frozen":
                raise self.conflict(viewer, FROZEN_ALREADY)
            _check_terms(data, {p["id"] for p in parties})
            content = {
                "case": {"id": case_id, "tracking_no": viewer.case.tracking_no},
                "parties": [
                    {"id": p["id"], "side": p["side"], "name": p["name"], "relationship": p["relationship"]}
                    for p in parties
                ],
                **data.model_dump(mode="json"),
            }
            text = canonical_json(content)
            digest = content_hash(text)
            agreement_id, revision = await _store(case_id, current, text, digest, now)
            await self.event(
                viewer,
                "agreement_draft",
                {"agreement_id": agreement_id, "revision": revision, "sha256": digest},
                now,
            )
            return await agreement_now(case_id)

    async def sign(self, actor: Principal, case_id: int, data: s.SignatureCreate) -> dict[str, Any]:
        """A party's signature or oral acceptance; the last one freezes the agreement."""
        now = self.now()
        async with self.managing(actor, case_id, IN_MEDIATION) as viewer:
            await require_running(self, viewer)
            agreement = await current_agreement(case_id)
            if agreement is None or agreement["status"] == "superseded":
                raise self.conflict(viewer, "there is no agreement to sign")
            if agreement["status"] == "frozen":
                raise self.conflict(viewer, FROZEN_ALREADY)
            signers = [p["id"] for p in agreement["content"]["parties"]]
            if data.party_id not in signers:
                raise field_error("party_id", "not a party to this agreement")
            digest = agreement["content_hash"]
            signed = await _signed(agreement["id"], digest)
            if data.party_id in signed:
                raise self.conflict(viewer, "this party has signed this revision already")
            await Signature.insert(
                Signature(
                    agreement_id=agreement["id"],
                    party_id=data.party_id,
                    method=data.method,
                    content_hash=digest,
                    recorded_by=actor.username,
                    at=now,
                )
            )
            fields: dict[str, Any] = {
                "agreement_id": agreement["id"],
                "party_id": data.party_id,
                "method": data.method,
                "sha256": digest,
            }
            if set(signers) <= {*signed, data.party_id}:
                await self._freeze(viewer, agreement, fields, now)
            else:
                await self.event(viewer, "agreement_sign", fields, now)
            return await agreement_now(case_id)

    async def _freeze(
        self, viewer: Viewer, agreement: dict[str, Any], fields: dict[str, Any], now: datetime
    ) -> None:
        """The last signature: the agreement is in force and its confirmation countdown starts."""
        await Agreement.update({Agreement.status: "frozen", Agreement.frozen_at: now}).where(
            Agreement.id == agreement["id"]
        )
        await Mediation.update({Mediation.status: "agreement"}).where(
            Mediation.case_id == viewer.case.inserted_id
        )
        fields["frozen"] = True
        fields["confirmation_due"] = now + self.clocks.judicial_confirmation
        await self.event(viewer, FREEZE_ACTION, fields, now)
        await self._tell_parties(viewer, agreement, fields["confirmation_due"], now)

    async def _tell_parties(
        self, viewer: Viewer, agreement: dict[str, Any], confirmation_due: datetime, now: datetime
    ) -> None:
        """The agreement is in force: the parties learn the deadline to apply for judicial confirmation."""
        case_id = viewer.case.inserted_id
        usernames = {p["id"]: p["username"] for p in await parties_of(case_id)}
        payload = {"case_id": case_id, "agreement_id": agreement["id"], "confirmation_due": confirmation_due}
        for party in agreement["content"]["parties"]:
            recipient = usernames.get(party["id"]) or f"case:{case_id}:party:{party['id']}"
            await enqueue(
                topic="mediation.agreement_in_force",
                case_id=case_id,
                recipient=recipient,
                payload=payload,
                at=now,
            )


def _check_terms(data: s.AgreementWrite, party_ids: set[int]) -> None:
    for index, term in enumerate(data.terms):
        if term.obligor_party_id is not None and term.obligor_party_id not in party_ids:
            raise field_error(f"terms.{index}.obligor_party_id", "no such party on this case")
        if term.due_on is not None and term.due_on > data.performance_deadline:
            raise field_error(f"terms.{index}.due_on", "later than the performance deadline")


async def _store(
    case_id: int, current: dict[str, Any] | None, text: str, digest: str, now: datetime
) -> tuple[int, int]:
    """A new agreement after none or a superseded one, else a new revision of the draft: (id, revision)."""
    if current is None or current["status"] == "superseded":
        row = Agreement(
            case_id=case_id,
            number=1 if current is None else current["number"] + 1,
            status="draft",
            content=text,
            content_hash=digest,
            revision=1,
            created_at=now,
            updated_at=now,
        )
        await Agreement.insert(row)
        return row.id, 1
    revision: int = current["revision"] + 1
    await Agreement.update(
        {
            Agreement.content: text,
            Agreement.content_hash: digest,
            Agreement.revision: revision,
            Agreement.updated_at: now,
        }
    ).where(Agreement.id == current["id"])
    return current["id"], revision


async def fully_performed(agreement: dict[str, Any]) -> bool:
    """No term of the agreement waits for a check that says it was performed."""
    checks = await PerformanceCheck.select().where(PerformanceCheck.agreement_id == agreement["id"])
    return next_check(agreement, checks) is None
