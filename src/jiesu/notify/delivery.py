"""Webhook delivery of the outbox: signed with HMAC-SHA256, retried with exponential backoff, dead-lettered.

A batch is claimed by moving it to ``sending`` with a lease (``next_attempt_at`` = now + lease) in a
committed transaction. Just before each HTTP call the sender takes that one message again (``start``):
its lease is renewed for the time one request may take and its attempt counted, guarded by the attempt
count seen at the claim. A batch whose lease ran out while earlier messages were being sent is therefore
never sent twice: another process that claimed a message meanwhile either took it first (ours is then
skipped) or finds it taken. Attempts count requests made, not claims. A process that dies mid-delivery
leaves the lease behind; when it runs out, any process claims the message again. Delivery is therefore
at least once: receivers de-duplicate by the ``X-Jiesu-Delivery`` header (the message id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx

from jiesu import db
from jiesu.background import JobReport
from jiesu.clock import Clock
from jiesu.config import Settings
from jiesu.notify.tables import OutboxMessage

log = logging.getLogger("jiesu.notify")

SIGNATURE_HEADER = "X-Jiesu-Signature"
CLAIM_SQL = (
    "SELECT id FROM jiesu_outbox WHERE status IN ('pending', 'sending') AND next_attempt_at <= {} "
    "ORDER BY next_attempt_at, id LIMIT {}"
)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=<hex>`` over ``<timestamp>.<body>``: the receiver recomputes it with the shared secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class WebhookConfig:
    url: str
    secret: str
    max_attempts: int = 8
    backoff_seconds: float = 30.0
    backoff_max_seconds: float = 6 * 3600.0
    timeout_seconds: float = 10.0

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.timeout_seconds * 3)

    def backoff(self, attempts: int) -> timedelta:
        """After the n-th failed attempt wait base * 2^(n-1), capped."""
        return timedelta(seconds=min(self.backoff_seconds * 2 ** (attempts - 1), self.backoff_max_seconds))


@dataclass
class DeliveryReport(JobReport):
    claimed: int = 0
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0  # claimed, but taken by another process before our request


def message_body(row: dict[str, Any]) -> bytes:
    return json.dumps(
        {
            "id": row["id"],
            "topic": row["topic"],
            "recipient": row["recipient"],
            "case_id": row["case_id"],
            "payload": json.loads(row["payload"]),
            "created_at": row["created_at"].isoformat(),
            "attempt": row["attempts"],
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode()


class WebhookSender:
    def __init__(self, config: WebhookConfig, clock: Clock, batch: int = 50) -> None:
        self.config = config
        self.clock = clock
        self.batch = batch

    async def claim(self) -> list[dict[str, Any]]:
        now = self.clock()
        async with db.write_transaction():
            sql = CLAIM_SQL + ("" if db.is_sqlite() else " FOR UPDATE SKIP LOCKED")
            ids = [row["id"] for row in await OutboxMessage.raw(sql, now, self.batch)]
            if not ids:
                return []
            await OutboxMessage.update(
                {OutboxMessage.status: "sending", OutboxMessage.next_attempt_at: now + self.config.lease}
            ).where(OutboxMessage.id.is_in(ids))
            return await OutboxMessage.select().where(OutboxMessage.id.is_in(ids)).order_by(OutboxMessage.id)

    async def start(self, row: dict[str, Any]) -> dict[str, Any] | None:
        """Take one claimed message for a request now: renew its lease and count the attempt, unless
        another process took it since the claim (then None: it is theirs)."""
        now = self.clock()
        async with db.write_transaction():
            taken = (
                await OutboxMessage.update(
                    {
                        OutboxMessage.attempts: OutboxMessage.attempts + 1,
                        OutboxMessage.next_attempt_at: now + self.config.lease,
                    }
                )
                .where(
                    (OutboxMessage.id == row["id"])
                    & (OutboxMessage.status == "sending")
                    & (OutboxMessage.attempts == row["attempts"])
                )
                .returning(OutboxMessage.id)
            )
        return {**row, "attempts": row["attempts"] + 1} if taken else None

    async def post(self, client: httpx.AsyncClient, row: dict[str, Any]) -> str | None:
        """None when the receiver took the message, else a short reason (no message content)."""
        body = message_body(row)
        timestamp = str(int(self.clock().timestamp()))
        headers = {
            "Content-Type": "application/json",
            "X-Jiesu-Delivery": str(row["id"]),
            "X-Jiesu-Topic": row["topic"],
            "X-Jiesu-Timestamp": timestamp,
            SIGNATURE_HEADER: sign(self.config.secret, timestamp, body),
        }
        try:
            response = await client.post(self.config.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return f"transport: {type(exc).__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"http {response.status_code}"

    async def record(self, row: dict[str, Any], error: str | None, report: DeliveryReport) -> None:
        now = self.clock()
        if error is None:
            values = {OutboxMessage.status: "delivered", OutboxMessage.delivered_at: now}
            report.delivered += 1
        elif row["attempts"] >= self.config.max_attempts:
            values = {OutboxMessage.status: "dead", OutboxMessage.last_error: error}
            report.dead += 1
            log.warning("outbox message %s dead after %s attempts: %s", row["id"], row["attempts"], error)
        else:
            values = {
                OutboxMessage.status: "pending",
                OutboxMessage.last_error: error,
                OutboxMessage.next_attempt_at: now + self.config.backoff(row["attempts"]),
            }
            report.retried += 1
        async with db.write_transaction():
            # Only while our lease holds: a message re-claimed by another process is theirs now.
            await OutboxMessage.update(values).where(
                (OutboxMessage.id == row["id"])
                & (OutboxMessage.status == "sending")
                & (OutboxMessage.attempts == row["attempts"])
            )

    async def deliver(self) -> DeliveryReport:
        """Deliver everything due now, batch after batch."""
        report = DeliveryReport()
        async with httpx.AsyncClient(timeout=self.config.timeout_seconds) as client:
            while True:
                rows = await self.claim()
                report.claimed += len(rows)
                for claimed in rows:
                    row = await self.start(claimed)
                    if row is None:
                        report.skipped += 1
                        continue
                    await self.record(row, await self.post(client, row), report)
                if len(rows) < self.batch:
                    return report


def webhook_sender(settings: Settings, clock: Clock) -> WebhookSender | None:
    """The sender configured by JIESU_WEBHOOK_*; None when no webhook URL is set."""
    if not settings.webhook_url:
        return None
    if not settings.webhook_secret:
        raise ValueError("JIESU_WEBHOOK_SECRET must be set when JIESU_WEBHOOK_URL is")
    config = WebhookConfig(
        url=settings.webhook_url,
        secret=settings.webhook_secret,
        max_attempts=settings.webhook_max_attempts,
        backoff_seconds=settings.webhook_backoff_seconds,
        timeout_seconds=settings.webhook_timeout_seconds,
    )
    return WebhookSender(config, clock)


def sender_job(sender: WebhookSender | None) -> Callable[[], Awaitable[Any]]:
    async def job() -> Any:
        return await sender.deliver() if sender else None

    return job
