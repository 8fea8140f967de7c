"""Writing to the outbox: call inside the transaction of the change that causes the message."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from jiesu.notify.tables import OutboxMessage

_PAYLOAD = json.JSONEncoder(ensure_ascii=False, default=str)  # made once: json.dumps makes one a call


def outbox_row(
    *, topic: str, case_id: int | None, recipient: str | None, payload: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """The columns of a new pending message (no phone or name may be in ``payload``)."""
    return {
        "case_id": case_id,
        "topic": topic,
        "recipient": recipient,
        "payload": _PAYLOAD.encode(payload),
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": at,
        "created_at": at,
        "delivered_at": None,
        "last_error": None,
    }


async def enqueue(
    *, topic: str, case_id: int | None, recipient: str | None, payload: dict[str, Any], at: datetime
) -> None:
    row = outbox_row(topic=topic, case_id=case_id, recipient=recipient, payload=payload, at=at)
    await OutboxMessage.insert(OutboxMessage(**row))
