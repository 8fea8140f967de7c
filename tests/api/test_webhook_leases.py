"""Webhook leases: a batch that takes longer than its lease is not sent twice, and an attempt counts a
request made, not a claim."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from jiesu.config import Settings
from jiesu.notify.delivery import WebhookConfig, WebhookSender
from jiesu.notify.tables import OutboxMessage
from tests.conftest import Api
from tests.helpers import FakeClock, Receiver

SECRET = "webhook-secret-for-tests"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 2, 1, 0, tzinfo=UTC))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    # no webhook in the app: the test drives its own senders
    return dataclasses.replace(settings, sweep_interval_seconds=0, delivery_interval_seconds=0)


def sender(receiver: Receiver, clock: FakeClock) -> WebhookSender:
    return WebhookSender(WebhookConfig(url=receiver.url, secret=SECRET, timeout_seconds=10), clock)  # 30 s


async def test_a_batch_that_outlives_its_lease_is_sent_once(
    api: Api, receiver: Receiver, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(4):
        await api.file()
    first, second = sender(receiver, clock), sender(receiver, clock)
    post = first.post
    sent: list[int] = []

    async def slow_post(client: httpx.AsyncClient, row: dict[str, Any]) -> str | None:
        error = await post(client, row)
        sent.append(row["id"])
        clock.advance(seconds=20)  # each request takes 20 s: the batch's 30 s lease runs out
        if len(sent) == 2:
            await second.deliver()  # another worker claims what the first has not sent yet
        return error

    monkeypatch.setattr(first, "post", slow_post)
    await first.deliver()
    delivered = receiver.delivery_ids()
    rows = await OutboxMessage.select()
    assert len(rows) >= 4
    assert sorted(delivered) == sorted(str(row["id"]) for row in rows)  # each message exactly once
    assert {(row["status"], row["attempts"]) for row in rows} == {("delivered", 1)}


async def test_a_claim_without_a_request_is_no_attempt(
    api: Api, receiver: Receiver, clock: FakeClock
) -> None:
    await api.file()
    crashed = sender(receiver, clock)
    claimed = await crashed.claim()  # the process dies here, before any request
    assert claimed
    clock.advance(seconds=31)
    report = await sender(receiver, clock).deliver()
    assert report.delivered == len(claimed)
    rows = await OutboxMessage.select().where(OutboxMessage.id.is_in([row["id"] for row in claimed]))
    assert {row["attempts"] for row in rows} == {1}
    assert [int(i) for i in receiver.delivery_ids()] == [row["id"] for row in claimed]
