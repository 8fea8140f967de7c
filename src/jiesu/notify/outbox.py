"""Writing to the outbox: call inside the transaction of the change that causes the message."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from jiesu.notify.tables import OutboxMessage

MANY_COLUMNS = "case_id, topic, recipient, payload, status, attempts, next_attempt_at, created_at"


def outbox_row(
    *, topic: str, case_id: int | None, recipient: str | None, payload: dict[str, Any], at: datetime
) -> tuple[Any, ...]:
    """One message as the values of MANY_COLUMNS, for enqueue_many."""
    return (
        case_id,
        topic,
        recipient,
        json.dumps(payload, ensure_ascii=False, default=str),
        "pending",
        0,
        at,
        at,
    )


async def enqueue(
    *, topic: str, case_id: int | None, recipient: str | None, payload: dict[str, Any], at: datetime
) -> None:
    await OutboxMessage.insert(
        OutboxMessage(
            case_id=case_id,
            topic=topic,
            recipient=recipient,
            payload=json.dumps(payload, ensure_ascii=False, default=str),
            status="pending",
            next_attempt_at=at,
            created_at=at,
        )
    )


async def enqueue_many(rows: list[tuple[Any, ...]]) -> None:
    """Many messages in one INSERT, without building a Table object per message (the sweeper writes
    a whole batch of cases' messages at once)."""
    if not rows:
        return
    values = ", ".join(["({}, {}, {}, {}, {}, {}, {}, {})"] * len(rows))
    await OutboxMessage.raw(
        f"INSERT INTO jiesu_outbox ({MANY_COLUMNS}) VALUES {values}",
        *(value for row in rows for value in row),
    )
