"""Export, deletion on request and anonymisation after the retention period.

The case is the unit of erasure: its own row is anonymised first (jiesu.cases.rights, guarded by the
case's version), then every domain erases what it keeps about that case (jiesu.rights.registry). Events
keep their sealed values' seals (audit/seals.py), so the chain still verifies, and each anonymised case
gets one ``anonymise`` event in the chain saying that, when and why.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

from jiesu.accounts import rights as accounts
from jiesu.accounts.security import Principal
from jiesu.audit.chain import append_event
from jiesu.audit.seals import ERASURE_ACTION
from jiesu.background import Lifespan
from jiesu.case_record import CaseRecord
from jiesu.cases import rights as cases
from jiesu.clock import Clock
from jiesu.db import write_transaction
from jiesu.errors import Conflict, Forbidden, NotFound
from jiesu.ops.logs import get_logger
from jiesu.privacy import DataSubject
from jiesu.rights.registry import registered
from jiesu.rights.tables import Erasure

RETENTION_BATCH = 200

log = get_logger("jiesu.rights")


class RightsService:
    def __init__(self, clock: Clock, retention_days: int) -> None:
        self.clock = clock
        self.retention_days = retention_days

    # ---- export -------------------------------------------------------------------------------

    async def export(self, actor: Principal) -> dict[str, Any]:
        """Everything jiesu holds about the caller: account, cases, their histories, notifications."""
        if actor.role == "resident":
            if await accounts.account_id(actor.username) is None:
                raise NotFound("no such account")
            subject = DataSubject(actor.username, await cases.filed_by(actor.username))
        elif actor.role == "filer":
            case = await cases.filed_case(actor.case_id or 0)
            subject = DataSubject(None, [case] if case is not None else [])
        else:
            raise Forbidden("the export is for residents and filers of a case")
        exported: dict[str, Any] = {"exported_at": self.clock()}
        for name, hooks in registered():
            if hooks.export is not None:
                exported[name] = await hooks.export(subject)
        return exported

    # ---- erasure ------------------------------------------------------------------------------

    async def _anonymise(self, case: CaseRecord, cause: str) -> bool:
        """Erase one case's personal data and its link to the filer's account.

        Runs inside the caller's write transaction.
        """
        now = self.clock()
        if not await cases.anonymise(case, now):
            return False  # changed meanwhile: the next run takes it
        for _, hooks in registered():
            if hooks.erase_case is not None:
                await hooks.erase_case(case)
        await append_event(
            case_id=case.inserted_id,
            actor="system",
            actor_role="system",
            action=ERASURE_ACTION,
            from_state=case.state,
            to_state=case.state,
            fields={"cause": cause},
            at=now,
        )
        if not await Erasure.exists().where(Erasure.case_id == case.id):
            await Erasure.insert(Erasure(case_id=case.inserted_id, erased_at=now, cause=cause))
        return True

    async def delete_account(self, actor: Principal) -> dict[str, Any]:
        """The resident's account and the personal data of every case they filed.

        Refused while a case is open: it could not be handled without a way to reach the filer.
        """
        if actor.role == "filer":
            return await self._erase_filed_case(actor.case_id or 0)
        if actor.role != "resident":
            raise Forbidden("only a resident's own account can be deleted this way")
        async with write_transaction():
            account = await accounts.account_id(actor.username)
            if account is None:
                raise NotFound("no such account")
            open_cases = await cases.open_cases_filed_by(actor.username)
            if open_cases:
                ids = ", ".join(str(case_id) for case_id in open_cases)
                raise Conflict(
                    f"cases {ids} are still open: withdraw them or wait until they are closed",
                )
            filed = await cases.filed_by(actor.username)
            for case in filed:
                if not await self._anonymise(case, "request"):
                    raise Conflict("a case changed; try again")
            pseudonym = f"deleted-{account}"
            for _, hooks in registered():
                if hooks.forget_account is not None:
                    await hooks.forget_account(actor.username, pseudonym)
        log.info("account.deleted", cases=len(filed))
        return {"deleted": True, "cases_anonymised": len(filed)}

    async def _erase_filed_case(self, case_id: int) -> dict[str, Any]:
        """An anonymous filer (access code) asks to erase their one case."""
        async with write_transaction():
            case = await cases.filed_case(case_id)
            if case is None:
                raise NotFound(f"no case {case_id}")
            if case.state != "closed":
                raise Conflict(
                    f"case {case_id} is still open: withdraw it or wait until it is closed",
                )
            if not await self._anonymise(case, "request"):
                raise Conflict("the case changed; try again")
        return {"deleted": True, "cases_anonymised": 1}

    async def anonymise_expired(self) -> int:
        """Anonymise every case closed longer ago than the retention period; returns how many."""
        if self.retention_days <= 0:
            return 0
        cutoff = self.clock() - timedelta(days=self.retention_days)
        done, after = 0, 0
        while True:
            ids = await cases.closed_before(cutoff, after, RETENTION_BATCH)
            if not ids:
                break
            after = ids[-1]
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
            case = await cases.filed_case(case_id)
            return int(case is not None and await self._anonymise(case, "retention"))


def retention_lifespan(rights: RightsService, interval_seconds: float) -> Lifespan:
    """Anonymise expired cases every ``interval_seconds`` while the app runs (safe in every worker)."""

    @asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
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
