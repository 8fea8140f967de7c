"""Deadlines under a fake clock, the business calendar, and the sweeper's reminders and escalations."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from jiesu.app import create_app
from jiesu.config import PROJECT_ROOT, Settings
from tests.conftest import ADMIN_PASSWORD, Api
from tests.helpers import FakeClock

MONDAY_9AM_BEIJING = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(MONDAY_9AM_BEIJING)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, sweep_interval_seconds=0)


@pytest.fixture
async def client(settings: Settings, clock: FakeClock) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(create_app(settings, clock=clock)) as test_client:
        yield test_client


async def sweep(api: Api) -> dict[str, int]:
    response = await api.as_user("admin", "POST", "/api/sla/sweep")
    assert response.status_code == 200, response.text
    return response.json()


async def outbox(api: Api, case_id: int, topic: str) -> list[str]:
    page = await api.as_user("admin", "GET", f"/api/notifications?case_id={case_id}&topic={topic}")
    return sorted(m["recipient"] for m in page.json()["items"])


async def dispatched(api: Api, **overrides: object) -> dict:
    case = await api.file(**overrides)
    response = await api.act("disp", case["id"], "dispatch", assignee="w1")
    assert response.status_code == 200, response.text
    return response.json()


CLOCKS = [
    ("neighbour_noise", "urgent", timedelta(hours=2), timedelta(hours=24)),
    ("neighbour_noise", "normal", timedelta(hours=24), timedelta(days=7)),
    ("land_tenancy", "normal", timedelta(hours=24), timedelta(days=15)),
    ("wage_arrears", None, timedelta(hours=2), timedelta(hours=24)),  # urgent by default, complex
]


async def test_deadlines_follow_priority_and_complexity(api: Api, clock: FakeClock) -> None:
    for category, priority, response, resolution in CLOCKS:
        case = await api.file(category=category, priority=priority)
        assert at(case["deadlines"]["response_due"]) == clock.now + response, category
        assert at(case["deadlines"]["resolution_due"]) == clock.now + resolution, category
        assert at(case["deadlines"]["current"]) == clock.now + response, category


async def test_extension_moves_the_resolution_deadline_once(api: Api, clock: FakeClock) -> None:
    case = await dispatched(api)
    until = at(case["deadlines"]["resolution_due"]) + timedelta(days=3)
    extended = await api.act("sup", case["id"], "extend", until=until.isoformat(), reason="Parties abroad")
    assert extended.status_code == 200, extended.text
    assert at(extended.json()["deadlines"]["resolution_due"]) == until
    twice = await api.act(
        "sup", case["id"], "extend", until=(until + timedelta(days=1)).isoformat(), reason="x"
    )
    assert twice.status_code == 409


async def test_feedback_window_is_three_days(api: Api, clock: FakeClock) -> None:
    case = await dispatched(api)
    await api.act("w1", case["id"], "resolve", outcome="resolved", summary="Agreed quiet hours")
    clock.advance(hours=5)
    approved = (await api.act("sup", case["id"], "approve")).json()
    assert at(approved["deadlines"]["feedback_due"]) == clock.now + timedelta(days=3)


async def test_reminder_at_80_percent_then_escalation_to_street_then_district(
    api: Api, clock: FakeClock
) -> None:
    case = await dispatched(api)
    start = clock.now
    clock.now = start + timedelta(hours=19)  # 79% of the 24 h response clock
    assert (await sweep(api))["reminded"] == 0
    clock.now = start + timedelta(hours=19, minutes=30)
    assert (await sweep(api))["reminded"] == 1
    assert await outbox(api, case["id"], "case.reminder") == ["w1"]
    assert (await sweep(api))["reminded"] == 0

    clock.now = start + timedelta(hours=24, minutes=1)
    report = await sweep(api)
    assert report["escalated"] == 1
    overdue = (await api.as_user("sup", "GET", "/api/cases?overdue=true")).json()["items"]
    assert [c["id"] for c in overdue] == [case["id"]]
    assert overdue[0]["escalation_level"] == "street"
    assert await outbox(api, case["id"], "case.escalated") == ["sup"]  # S1 has no dispatcher: its supervisor
    assert await outbox(api, case["id"], "case.overdue") == ["w1"]
    assert (await sweep(api))["escalated"] == 0

    clock.now = start + timedelta(hours=48, minutes=2)
    assert (await sweep(api))["escalated"] == 1
    assert await outbox(api, case["id"], "case.escalated") == ["disp", "sup"]  # no D1 staff: city-wide
    clock.now = start + timedelta(days=30)
    assert (await sweep(api))["escalated"] == 0
    events = (await api.as_user("admin", "GET", f"/api/cases/{case['id']}/events")).json()
    escalations = [e for e in events if e["action"] == "sla_escalate"]
    assert [(e["actor"], e["fields"]["level"], e["fields"]["clock"]) for e in escalations] == [
        ("system", "street", "response"),
        ("system", "district", "response"),
    ]
    assert (await api.case("admin", case["id"]))["escalation_level"] == "district"


async def test_first_contact_starts_the_resolution_clock_for_the_sweeper(api: Api, clock: FakeClock) -> None:
    case = await dispatched(api)
    clock.advance(hours=1)
    await api.act("w1", case["id"], "contact", note="Phoned the neighbour")
    clock.advance(hours=30)  # the response deadline would have passed, but the response was made
    assert await sweep(api) == {"claimed": 0, "reminded": 0, "escalated": 0, "closed": 0, "conflicts": 0}
    clock.now = MONDAY_9AM_BEIJING + timedelta(days=7) * 0.8 + timedelta(minutes=1)
    assert (await sweep(api))["reminded"] == 1
    assert await outbox(api, case["id"], "case.reminder") == ["w1"]


async def test_unanswered_feedback_is_closed_by_the_sweeper(api: Api, clock: FakeClock) -> None:
    case = await dispatched(api)
    await api.act("w1", case["id"], "resolve", outcome="resolved", summary="Agreed quiet hours")
    await api.act("sup", case["id"], "approve")
    clock.advance(days=2, hours=12)
    assert (await sweep(api))["reminded"] == 1
    assert await outbox(api, case["id"], "case.reminder") == ["alice"]
    clock.advance(hours=13)
    assert (await sweep(api))["closed"] == 1
    closed = await api.case("alice", case["id"])
    assert closed["state"] == "closed" and closed["satisfaction"] is None
    events = (await api.as_user("alice", "GET", f"/api/cases/{case['id']}/events")).json()
    assert events[-1]["action"] == "close_unrated" and events[-1]["actor"] == "system"
    assert (await sweep(api))["closed"] == 0


async def test_deadlines_survive_a_restart_and_the_server_sweeps_by_itself(
    settings: Settings, api: Api, clock: FakeClock
) -> None:
    case = await api.file()
    await api.client.__aexit__(None, None, None)
    clock.advance(hours=25)
    sweeping = dataclasses.replace(settings, sweep_interval_seconds=0.1)
    async with AsyncTestClient(create_app(sweeping, clock=clock)) as restarted:
        fresh = Api(restarted)
        await fresh.login("admin", ADMIN_PASSWORD)
        for _ in range(100):
            if (await fresh.case("admin", case["id"]))["escalation_level"] == "street":
                break
            await asyncio.sleep(0.1)
        assert (await fresh.case("admin", case["id"]))["escalation_level"] == "street"
        assert (await sweep(fresh))["escalated"] == 0


@pytest.fixture
def calendar_workflows(tmp_path: Path) -> Path:
    folder = tmp_path / "workflows"
    shutil.copytree(PROJECT_ROOT / "workflows", folder)
    sla = (folder / "sla.yaml").read_text().replace("  clocks: []", "  clocks: [response, resolution]")
    (folder / "sla.yaml").write_text(sla)
    return folder


async def test_working_day_calendar_skips_weekends_and_holidays(
    settings: Settings, calendar_workflows: Path, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # Wednesday 10:00 in Beijing, before National Day
    with_calendar = dataclasses.replace(settings, workflows_dir=calendar_workflows)
    async with AsyncTestClient(create_app(with_calendar, clock=clock)) as client:
        response = await client.post(
            "/api/cases",
            json={
                "kind": "complaint",
                "category": "neighbour_noise",
                "title": "Noise",
                "description": "Drilling at night",
                "address": "Somewhere",
                "contact": {"name": "A B", "phone": "13812345678"},
            },
        )
        assert response.status_code == 201, response.text
        case = response.json()
        # 14 h left on 30 Sep, 1-7 Oct are holidays, 10 more hours on Thursday 8 Oct.
        assert at(case["deadlines"]["response_due"]) == datetime(2026, 10, 8, 2, 0, tzinfo=UTC)
        # 7 working days: 30 Sep (14 h), 8, 9, 10 (a Saturday worked), 12, 13, 14 Oct, 10 h of 15 Oct.
        assert at(case["deadlines"]["resolution_due"]) == datetime(2026, 10, 15, 2, 0, tzinfo=UTC)
