"""Real processes: two `jiesu sweep` runs at once escalate each case exactly once; a server killed in the
middle of a webhook delivery loses nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from jiesu.app import create_app
from jiesu.config import Settings
from tests.conftest import ADMIN_PASSWORD, Api
from tests.helpers import FakeClock, Receiver

JIESU = str(Path(sys.executable).parent / "jiesu")
# Real processes: one after another on one xdist worker, with the crash tests (see test_crash.py).
pytestmark = pytest.mark.xdist_group("servers")


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JIESU_")}
    env.update(
        JIESU_DATABASE_URL=settings.database_url,
        JIESU_VAR_DIR=str(settings.var_dir),
        JIESU_SECRET_KEY=settings.secret_key,
        JIESU_ADMIN_PASSWORD=ADMIN_PASSWORD,
        JIESU_PASSWORD_HASH_PROFILE="fast",
        **extra,
    )
    return env


@pytest.fixture
def clock() -> FakeClock:
    # Filed 25 hours ago: every normal case's 24 h response deadline passed an hour ago.
    return FakeClock(datetime.now(UTC) - timedelta(hours=25))


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, sweep_interval_seconds=0)


@pytest.fixture
async def client(settings: Settings, clock: FakeClock) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


async def test_two_sweepers_at_once_escalate_each_overdue_case_exactly_once(
    api: Api, settings: Settings
) -> None:
    ids = [(await api.file(title=f"Noise {n}"))["id"] for n in range(40)]
    env = process_env(settings)
    runs = [
        await asyncio.create_subprocess_exec(
            JIESU, "sweep", env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outputs = await asyncio.wait_for(asyncio.gather(*(run.communicate() for run in runs)), timeout=120)
    reports = []
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err.decode()
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    assert sum(r["escalated"] for r in reports) == len(ids)
    for case_id in ids:
        events = (await api.as_user("admin", "GET", f"/api/cases/{case_id}/events")).json()
        assert [e["fields"]["level"] for e in events if e["action"] == "sla_escalate"] == ["street"]
    again = await api.as_user("admin", "POST", "/api/sla/sweep")
    assert again.json()["escalated"] == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [JIESU, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    raise AssertionError("the server did not start")


def wait_for(condition, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_server_killed_mid_delivery_loses_no_message(settings: Settings) -> None:
    with Receiver(hang_first=True) as receiver:
        env = process_env(
            settings,
            JIESU_WEBHOOK_URL=receiver.url,
            JIESU_WEBHOOK_SECRET="s3cret-for-the-test",
            JIESU_WEBHOOK_TIMEOUT="1",
            JIESU_DELIVERY_INTERVAL="0.2",
            JIESU_SWEEP_INTERVAL="0",
        )
        http = httpx.Client(timeout=30)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(env, port)
        try:
            token = http.post(
                f"{base}/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
            ).json()["access_token"]
            admin = {"Authorization": f"Bearer {token}"}
            for code, level, parent in (
                ("D1", "district", None),
                ("S1", "street", "D1"),
                ("C1", "community", "S1"),
            ):
                made = http.post(
                    f"{base}/api/jurisdictions",
                    json={"code": code, "name": code, "level": level, "parent_code": parent},
                    headers=admin,
                )
                assert made.status_code == 201, made.text
            filed = http.post(
                f"{base}/api/cases",
                json={
                    "kind": "complaint",
                    "category": "parking",
                    "title": "Blocked exit",
                    "description": "A van blocks the fire exit",
                    "address": "Gate 2",
                    "jurisdiction_code": "C1",
                    "contact": {"name": "A B", "phone": "13812345678"},
                },
            )
            assert filed.status_code == 201, filed.text
            assert receiver.got_request.wait(40), "the delivery never started"
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait(10)
        receiver.release.set()
        first_id = receiver.delivery_ids()[0]

        server = start_server(env, port)
        try:
            token = http.post(
                f"{base}/api/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD}
            ).json()["access_token"]
            admin = {"Authorization": f"Bearer {token}"}

            def all_delivered() -> bool:
                items = http.get(f"{base}/api/notifications", headers=admin).json()["items"]
                return bool(items) and all(m["status"] == "delivered" for m in items)

            wait_for(all_delivered)
            items = http.get(f"{base}/api/notifications", headers=admin).json()["items"]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(10)
    interrupted = next(m for m in items if str(m["id"]) == first_id)
    assert interrupted["attempts"] == 2
    assert receiver.delivery_ids().count(first_id) == 2
