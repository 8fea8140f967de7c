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


OUTBOX_COLUMNS = list(outbox_row(topic="", case_id=None, recipient=None, payload={}, at=datetime.min))


async def enqueue(
    *, topic: str, case_id: int | None, recipient: str | None, payload: dict[str, Any], at: datetime
) -> None:
    row = outbox_row(topic=topic, case_id=case_id, recipient=recipient, payload=payload, at=at)
    await OutboxMessage.insert(OutboxMessage(**row))


async def enqueue_many(rows: list[dict[str, Any]]) -> None:
    """Many ``outbox_row``s in one INSERT, without building a Table object per message (the sweeper
    writes a whole batch of cases' messages at once)."""
    if not rows:
        return
    one = "({})".format(", ".join(["{}"] * len(OUTBOX_COLUMNS)))
    await OutboxMessage.raw(
        f"INSERT INTO jiesu_outbox ({', '.join(OUTBOX_COLUMNS)}) VALUES {', '.join([one] * len(rows))}",
        *(row[column] for row in rows for column in OUTBOX_COLUMNS),
    )
