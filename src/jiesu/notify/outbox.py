"""Writing to the outbox: call inside the transaction of the change that causes the message."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from jiesu.notify.tables import OutboxMessage


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
