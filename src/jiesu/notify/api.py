from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import Parameter
from litestar.status_codes import HTTP_409_CONFLICT
from pydantic import BaseModel

from jiesu.accounts.auth import require_roles
from jiesu.db import write_transaction
from jiesu.notify.tables import OutboxMessage


class NotificationOut(BaseModel):
    id: int
    case_id: int | None
    topic: str
    recipient: str | None
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    delivered_at: datetime | None
    last_error: str | None


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    next_cursor: int | None


def notification_out(row: dict[str, Any]) -> NotificationOut:
    return NotificationOut(**{**row, "payload": json.loads(row["payload"])})


class NotificationController(Controller):
    path = "/api/notifications"
    tags = ["notify"]
    guards = [require_roles("admin")]

    @get("/", summary="The outbox, newest first (admin); cursor = the last id of the previous page")
    async def list_messages(
        self,
        status: Literal["pending", "sending", "delivered", "dead"] | None = None,
        topic: Annotated[str | None, Parameter(max_length=64)] = None,
        case_id: int | None = None,
        cursor: Annotated[int | None, Parameter(ge=1)] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
    ) -> NotificationPage:
        query = OutboxMessage.select()
        if status:
            query = query.where(OutboxMessage.status == status)
        if topic:
            query = query.where(OutboxMessage.topic == topic)
        if case_id is not None:
            query = query.where(OutboxMessage.case_id == case_id)
        if cursor is not None:
            query = query.where(OutboxMessage.id < cursor)
        rows = await query.order_by(OutboxMessage.id, ascending=False).limit(limit + 1)
        next_cursor = rows[limit - 1]["id"] if len(rows) > limit else None
        return NotificationPage(items=[notification_out(r) for r in rows[:limit]], next_cursor=next_cursor)

    @post("/deliver", status_code=200, summary="Deliver what is due now (it also runs inside the server)")
    async def deliver(self, state: State) -> dict[str, int]:
        if state.sender is None:
            raise HTTPException(
                status_code=HTTP_409_CONFLICT, detail="webhook: JIESU_WEBHOOK_URL is not configured"
            )
        return (await state.sender.deliver()).as_dict()

    @post("/{message_id:int}/retry", status_code=200, summary="Send a dead-lettered message again")
    async def retry(self, message_id: int, state: State) -> NotificationOut:
        now = state.cases.clock()
        async with write_transaction():
            row = await OutboxMessage.select().where(OutboxMessage.id == message_id).first()
            if row is None:
                raise NotFoundException(f"no notification {message_id}")
            if row["status"] != "dead":
                raise HTTPException(
                    status_code=HTTP_409_CONFLICT, detail="status: only a dead message is retried"
                )
            values = {"status": "pending", "attempts": 0, "next_attempt_at": now, "last_error": None}
            await OutboxMessage.update({getattr(OutboxMessage, k): v for k, v in values.items()}).where(
                OutboxMessage.id == message_id
            )
        return notification_out({**row, **values})
