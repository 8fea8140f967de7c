"""Notifications to a person, for residents' rights (jiesu.rights): their export, and their recipients
forgotten when a case is erased or an account deleted."""

from __future__ import annotations

import json
from typing import Any

from jiesu.case_record import CaseRecord
from jiesu.notify.tables import OutboxMessage
from jiesu.privacy import DataSubject

EXPORTED_MESSAGE_COLUMNS = tuple(
    getattr(OutboxMessage, name) for name in ("topic", "case_id", "payload", "status", "created_at")
)


async def export_notifications(subject: DataSubject) -> list[dict[str, Any]]:
    recipients = [f"case:{i}:filer" for i in subject.case_ids or [0]]
    if subject.username is not None:
        recipients.append(subject.username)
    messages = (
        await OutboxMessage.select(*EXPORTED_MESSAGE_COLUMNS)
        .where(OutboxMessage.recipient.is_in(recipients))
        .order_by(OutboxMessage.id)
    )
    return [{**m, "payload": json.loads(m["payload"])} for m in messages]


async def forget_case_filer(case: CaseRecord) -> None:
    if case.filer:
        await OutboxMessage.update({OutboxMessage.recipient: None}).where(
            (OutboxMessage.case_id == case.id) & (OutboxMessage.recipient == case.filer)
        )


async def forget_recipient(username: str, pseudonym: str) -> None:
    await OutboxMessage.update({OutboxMessage.recipient: pseudonym}).where(
        OutboxMessage.recipient == username
    )
