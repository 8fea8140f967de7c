"""Export, deletion on request and anonymisation after the retention period.

Anonymisation replaces names, phones and free text with ERASED and keeps every figure (kind, category,
jurisdiction, states, times, outcome, satisfaction) so the rates stay right. Events keep their sealed
values' seals (audit/seals.py), so the chain still verifies, and each anonymised case gets one
``anonymise`` event in the chain saying that, when and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from litestar import Litestar
from litestar.exceptions import HTTPException, NotFoundException, PermissionDeniedException
from litestar.status_codes import HTTP_409_CONFLICT

from jiesu.accounts.security import Principal
from jiesu.accounts.tables import User
from jiesu.audit.chain import append_event
from jiesu.audit.seals import ERASED, ERASURE_ACTION
from jiesu.audit.tables import CaseEvent
from jiesu.audit.texts import erase_texts, reveal_events
from jiesu.cases.tables import Case
from jiesu.clock import Clock
from jiesu.db import write_transaction
from jiesu.notify.tables import OutboxMessage
from jiesu.ops.logs import get_logger
from jiesu.rights.domains import erase_mediation, export_mediation, unlink_mediation_user
from jiesu.rights.tables import Erasure

PERSONAL_CASE_COLUMNS = ("title", "description", "address", "contact_name", "contact_phone")
INTERNAL_CASE_COLUMNS = ("idempotency_key", "request_hash", "access_code_hash")
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
RETENTION_BATCH = 200

log = get_logger("jiesu.rights")


class RightsService:
    def __init__(self, clock: Clock, retention_days: int) -> None:
        self.clock = clock
        self.retention_days = retention_days

    # ---- export -------------------------------------------------------------------------------

    async def export(self, actor: Principal) -> dict[str, Any]:
        """Everything jiesu holds about the caller: account, cases, their histories, notifications."""
        account = None
        if actor.role == "resident":
            user = await User.select().where(User.username == actor.username).first()
            if user is None:
                raise NotFoundException("no such account")
            account = {k: user[k] for k in ("username", "role", "display_name", "phone", "created_at")}
            cases = await Case.select().where(Case.filer == actor.username).order_by(Case.id)
        elif actor.role == "filer":
            cases = await Case.select().where(Case.id == (actor.case_id or 0))
        else:
            raise PermissionDeniedException("the export is for residents and filers of a case")
        case_ids = [case["id"] for case in cases] or [0]
        events = await reveal_events(
            await CaseEvent.select().where(CaseEvent.case_id.is_in(case_ids)).order_by(CaseEvent.seq)
        )
        recipients = [f"case:{i}:filer" for i in case_ids]
        if actor.role == "resident":
            recipients.append(actor.username)
        messages = (
            await OutboxMessage.select(
                OutboxMessage.topic,
                OutboxMessage.case_id,
                OutboxMessage.payload,
                OutboxMessage.status,
                OutboxMessage.created_at,
            )
            .where(OutboxMessage.recipient.is_in(recipients))
            .order_by(OutboxMessage.id)
        )
        return {
            "exported_at": self.clock(),
            "account": account,
            "cases": [{k: v for k, v in c.items() if k not in INTERNAL_CASE_COLUMNS} for c in cases],
            "events": [
                {k: (json.loads(e[k]) if k == "fields" else e[k]) for k in EXPORTED_EVENT_COLUMNS}
                for e in events
            ],
            "notifications": [{**m, "payload": json.loads(m["payload"])} for m in messages],
            "mediation": await export_mediation(
                actor.username if actor.role == "resident" else None, [c["id"] for c in cases]
            ),
        }

    # ---- erasure ------------------------------------------------------------------------------

    async def _anonymise(self, case: dict[str, Any], cause: str) -> bool:
        """Erase one case's personal data and its link to the filer's account.

        Runs inside the caller's write transaction.
        """
        now = self.clock()
        changes: dict[Any, Any] = {getattr(Case, column): ERASED for column in PERSONAL_CASE_COLUMNS}
        if case["resolution_summary"] is not None:
            changes[Case.resolution_summary] = ERASED
        changes[Case.filer] = None
        changes[Case.version] = Case.version + 1
        changes[Case.updated_at] = now
        written = (
            await Case.update(changes)
            .where((Case.id == case["id"]) & (Case.version == case["version"]))
            .returning(Case.id)
        )
        if not written:
            return False  # changed meanwhile: the next run takes it
        seqs = await CaseEvent.select(CaseEvent.seq).where(CaseEvent.case_id == case["id"])
        await erase_texts(row["seq"] for row in seqs)
        await erase_mediation(case["id"])
        if case["filer"]:
            await OutboxMessage.update({OutboxMessage.recipient: None}).where(
                (OutboxMessage.case_id == case["id"]) & (OutboxMessage.recipient == case["filer"])
            )
        await append_event(
            case_id=case["id"],
            actor="system",
            actor_role="system",
            action=ERASURE_ACTION,
            from_state=case["state"],
            to_state=case["state"],
            fields={"cause": cause},
            at=now,
        )
        if not await Erasure.exists().where(Erasure.case_id == case["id"]):
            await Erasure.insert(Erasure(case_id=case["id"], erased_at=now, cause=cause))
        return True

    async def delete_account(self, actor: Principal) -> dict[str, Any]:
        """The resident's account and the personal data of every case they filed.

        Refused while a case is open: it could not be handled without a way to reach the filer.
        """
        if actor.role == "filer":
            return await self._erase_filed_case(actor.case_id or 0)
        if actor.role != "resident":
            raise PermissionDeniedException("only a resident's own account can be deleted this way")
        async with write_transaction():
            user = await User.select(User.id).where(User.username == actor.username).first()
            if user is None:
                raise NotFoundException("no such account")
            open_cases = await Case.select(Case.id).where(
                (Case.filer == actor.username) & (Case.state != "closed")
            )
            if open_cases:
                ids = ", ".join(str(c["id"]) for c in open_cases)
                raise HTTPException(
                    status_code=HTTP_409_CONFLICT,
                    detail=f"cases {ids} are still open: withdraw them or wait until they are closed",
                )
            pseudonym = f"deleted-{user['id']}"
            cases = await Case.select().where(Case.filer == actor.username)
            for case in cases:
                if not await self._anonymise(case, "request"):
                    raise HTTPException(status_code=HTTP_409_CONFLICT, detail="a case changed; try again")
            await unlink_mediation_user(actor.username)
            await OutboxMessage.update({OutboxMessage.recipient: pseudonym}).where(
                OutboxMessage.recipient == actor.username
            )
            await User.update(
                {
                    User.username: pseudonym,
                    User.display_name: ERASED,
                    User.phone: None,
                    User.password_hash: "",
                    User.active: False,
                }
            ).where(User.id == user["id"])
        log.info("account.deleted", cases=len(cases))
        return {"deleted": True, "cases_anonymised": len(cases)}

    async def _erase_filed_case(self, case_id: int) -> dict[str, Any]:
        """An anonymous filer (access code) asks to erase their one case."""
        async with write_transaction():
            case = await Case.select().where(Case.id == case_id).first()
            if case is None:
                raise NotFoundException(f"no case {case_id}")
            if case["state"] != "closed":
                raise HTTPException(
                    status_code=HTTP_409_CONFLICT,
                    detail=f"case {case_id} is still open: withdraw it or wait until it is closed",
                )
            if not await self._anonymise(case, "request"):
                raise HTTPException(status_code=HTTP_409_CONFLICT, detail="the case changed; try again")
        return {"deleted": True, "cases_anonymised": 1}

    async def anonymise_expired(self) -> int:
        """Anonymise every case closed longer ago than the retention period; returns how many."""
        if self.retention_days <= 0:
            return 0
        cutoff = self.clock() - timedelta(days=self.retention_days)
        done, after = 0, 0
        while True:
            batch = (
                await Case.select(Case.id)
                .where((Case.state == "closed") & (Case.closed_at < cutoff) & (Case.id > after))
                .order_by(Case.id)
                .limit(RETENTION_BATCH)
            )
            if not batch:
                break
            after = batch[-1]["id"]
            ids = [row["id"] for row in batch]
            erased = {
                r["case_id"] for r in await Erasure.select(Erasure.case_id).where(Erasure.case_id.is_in(ids))
            }
            for case_id in ids:
                if case_id not in erased:
                    done += await self._anonymise_one(case_id)
        if done:
            log.info("retention.anonymised", cases=done, retention_days=self.retention_days)
        return done

    async def _anonymise_one(self, case_id: int) -> int:
        async with write_transaction():
            if await Erasure.exists().where(Erasure.case_id == case_id):
                return 0
            case = await Case.select().where(Case.id == case_id).first()
            return int(case is not None and await self._anonymise(case, "retention"))


def retention_lifespan(rights: RightsService, interval_seconds: float) -> Any:
    """Anonymise expired cases every ``interval_seconds`` while the app runs (safe in every worker)."""

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        async def loop() -> None:
            while True:
                try:
                    await rights.anonymise_expired()
                except Exception:
                    log.exception("retention.failed")
                await asyncio.sleep(interval_seconds)

        task = asyncio.create_task(loop()) if rights.retention_days > 0 else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifespan
