"""Outbox delivery by webhook to a real local HTTP receiver: signature, retries with backoff, dead letters."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from jiesu.app import create_app
from jiesu.config import Settings
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
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return dataclasses.replace(
        settings,
        sweep_interval_seconds=0,
        delivery_interval_seconds=0,
        webhook_url=receiver.url,
        webhook_secret=SECRET,
        webhook_max_attempts=3,
        webhook_backoff_seconds=30,
        webhook_timeout_seconds=2,
    )


@pytest.fixture
async def client(settings: Settings, clock: FakeClock) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


async def deliver(api: Api) -> dict[str, int]:
    response = await api.as_user("admin", "POST", "/api/notifications/deliver")
    assert response.status_code == 200, response.text
    return response.json()


async def messages(api: Api, **filters: object) -> list[dict]:
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    response = await api.as_user("admin", "GET", f"/api/notifications?{query}")
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def test_messages_are_delivered_signed_to_the_webhook(api: Api, receiver: Receiver) -> None:
    case = await api.file()
    report = await deliver(api)
    assert report["delivered"] == report["claimed"] >= 1
    headers, body = receiver.requests[0]
    expected = hmac.new(SECRET.encode(), headers["x-jiesu-timestamp"].encode() + b"." + body, hashlib.sha256)
    assert headers["x-jiesu-signature"] == f"sha256={expected.hexdigest()}"
    sent = json.loads(body)
    assert sent["topic"] == "case.accepted" and sent["case_id"] == case["id"]
    assert "13812345678" not in body.decode() and "Alice" not in body.decode()
    stored = await messages(api, case_id=case["id"])
    assert {m["status"] for m in stored} == {"delivered"}
    assert all(m["delivered_at"] for m in stored)
    assert (await deliver(api))["claimed"] == 0


async def test_a_failed_delivery_is_retried_after_the_backoff(
    api: Api, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.statuses = [500]
    await api.file()
    assert (await deliver(api))["retried"] == 1
    [message] = await messages(api, topic="case.accepted")
    assert message["status"] == "pending" and message["attempts"] == 1
    assert message["last_error"] == "http 500"
    assert datetime.fromisoformat(message["next_attempt_at"]) == clock.now + timedelta(seconds=30)
    assert (await deliver(api))["claimed"] == 0  # not before the backoff
    clock.advance(seconds=31)
    assert (await deliver(api))["delivered"] == 1
    assert receiver.delivery_ids() == [str(message["id"])] * 2


async def test_a_message_is_dead_lettered_after_n_failures_and_can_be_retried(
    api: Api, receiver: Receiver, clock: FakeClock
) -> None:
    receiver.statuses = [503] * 3
    await api.file()
    for wait in (0, 31, 61):  # backoff 30 s, then 60 s
        clock.advance(seconds=wait)
        await deliver(api)
    [dead] = await messages(api, status="dead")
    assert dead["attempts"] == 3 and dead["last_error"] == "http 503"
    clock.advance(days=1)
    assert (await deliver(api))["claimed"] == 0
    retried = await api.as_user("admin", "POST", f"/api/notifications/{dead['id']}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    assert (await deliver(api))["delivered"] == 1
    again = await api.as_user("admin", "POST", f"/api/notifications/{dead['id']}/retry")
    assert again.status_code == 409


async def test_unreachable_receiver_counts_as_a_failed_attempt(
    api: Api, settings: Settings, receiver: Receiver
) -> None:
    receiver.__exit__()
    await api.file()
    assert (await deliver(api))["retried"] == 1
    [message] = await messages(api, topic="case.accepted")
    assert message["last_error"].startswith("transport:")


async def test_notifications_are_for_the_admin_only(api: Api) -> None:
    assert (await api.as_user("disp", "GET", "/api/notifications")).status_code == 403
    assert (await api.as_user("alice", "POST", "/api/notifications/deliver")).status_code == 403
    bad = await api.as_user("admin", "GET", "/api/notifications?status=lost")
    assert bad.status_code == 400 and "status" in bad.json()["detail"]
