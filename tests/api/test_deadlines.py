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
from tests import rawdb
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


async def test_a_contacted_case_handed_back_waits_on_its_resolution_deadline(
    api: Api, clock: FakeClock
) -> None:
    case = await dispatched(api, priority="urgent")
    clock.advance(minutes=30)
    contacted = await api.act("w1", case["id"], "contact", note="Called both neighbours")
    assert contacted.status_code == 200, contacted.text
    returned = await api.act("w1", case["id"], "return_order", reason="The flat is in C2")
    assert returned.status_code == 200, returned.text
    clock.advance(hours=3)  # past the urgent response deadline, which the contact met
    body = await api.case("disp", case["id"])
    assert body["state"] == "triage" and body["responded_at"] is not None
    assert body["deadlines"]["current"] == body["deadlines"]["resolution_due"]
    assert at(body["deadlines"]["current"]) > at(body["deadlines"]["response_due"])
    assert body["overdue"] is False
    overdue = (await api.as_user("disp", "GET", "/api/cases?overdue=true")).json()["items"]
    assert case["id"] not in [c["id"] for c in overdue]
    # a case never contacted still waits on its response deadline in triage
    fresh = await api.file(priority="urgent")
    assert (await api.case("disp", fresh["id"]))["deadlines"]["current"] == fresh["deadlines"]["response_due"]


async def ask(api: Api, case: dict, days: int = 3, reason: str = "Parties abroad until next week") -> dict:
    until = at(case["deadlines"]["resolution_due"]) + timedelta(days=days)
    response = await api.act("w1", case["id"], "request_extension", until=until.isoformat(), reason=reason)
    assert response.status_code == 200, response.text
    return response.json()


async def test_approved_extension_moves_the_resolution_deadline_once(api: Api, clock: FakeClock) -> None:
    case = await dispatched(api)
    due = at(case["deadlines"]["resolution_due"])
    asked = await ask(api, case)
    assert at(asked["deadlines"]["resolution_due"]) == due  # nothing moves before the decision
    assert "request_extension" not in asked["allowed_actions"]
    clock.advance(hours=2)
    approved = await api.act("sup", case["id"], "approve_extension", note="Agreed")
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert at(body["deadlines"]["resolution_due"]) == due + timedelta(days=3)
    assert body["extension_count"] == 1 and body["extension_request"] is None
    assert not {"request_extension", "extend", "approve_extension"} & set(body["allowed_actions"])

    again = await api.act(
        "w1", case["id"], "request_extension", until=(due + timedelta(days=5)).isoformat(), reason="More"
    )
    assert again.status_code == 409
    assert "once" in again.json()["detail"]
    direct = await api.act(
        "sup", case["id"], "extend", until=(due + timedelta(days=5)).isoformat(), reason="x"
    )
    assert direct.status_code == 409
    assert at((await api.case("sup", case["id"]))["deadlines"]["resolution_due"]) == due + timedelta(days=3)
    events = (await api.as_user("sup", "GET", f"/api/cases/{case['id']}/events")).json()
    approval = events[-1]
    assert (approval["action"], approval["actor"]) == ("approve_extension", "sup")
    assert approval["fields"]["requested_by"] == "w1"
    assert at(approval["fields"]["previous_due"]) == due


async def test_pending_request_is_visible_and_a_second_one_is_refused(api: Api, clock: FakeClock) -> None:
    case = await dispatched(api)
    await ask(api, case, days=2)
    seen = await api.case("sup", case["id"])
    assert seen["extension_request"]["requested_by"] == "w1"
    assert at(seen["extension_request"]["until"]) == at(case["deadlines"]["resolution_due"]) + timedelta(
        days=2
    )
    assert {"approve_extension", "deny_extension"} <= set(seen["allowed_actions"])
    assert "extend" not in seen["allowed_actions"]  # decide the request instead
    assert (await api.case("w1", case["id"]))["extension_request"] is not None
    second = await api.act(
        "w1", case["id"], "request_extension",
        until=(at(case["deadlines"]["resolution_due"]) + timedelta(days=4)).isoformat(), reason="Longer",
    )  # fmt: skip
    assert second.status_code == 409
    assert "pending" in second.json()["detail"]
    timeline = (await api.as_user("sup", "GET", f"/api/reports/timeline/{case['id']}")).json()
    resolution = next(c for c in timeline["clocks"] if c["clock"] == "resolution")
    pending = resolution["extension_pending"]
    assert (pending["by"], pending["status"], pending["reason"]) == (
        "w1",
        "pending",
        "Parties abroad until next week",
    )
    assert resolution["extensions"] == []


async def test_denied_extension_keeps_the_deadline(api: Api, clock: FakeClock) -> None:
    case = await dispatched(api)
    due = at(case["deadlines"]["resolution_due"])
    await ask(api, case)
    no_reason = await api.act("disp", case["id"], "deny_extension")
    assert no_reason.status_code == 400
    assert "reason" in no_reason.json()["detail"]
    denied = await api.act("disp", case["id"], "deny_extension", reason="A week is enough for this")
    assert denied.status_code == 200, denied.text
    body = denied.json()
    assert at(body["deadlines"]["resolution_due"]) == due
    assert body["extension_count"] == 0 and body["extension_request"] is None
    assert (await api.act("sup", case["id"], "approve_extension")).status_code == 409  # nothing to approve
    timeline = (await api.as_user("sup", "GET", f"/api/reports/timeline/{case['id']}")).json()
    resolution = next(c for c in timeline["clocks"] if c["clock"] == "resolution")
    [request] = resolution["extension_requests"]
    assert (request["status"], request["decided_by"], request["decision_reason"]) == (
        "denied",
        "disp",
        "A week is enough for this",
    )
    assert resolution["extension_pending"] is None and resolution["extensions"] == []
    asked_again = await ask(api, {**case, "version": body["version"]}, days=1)  # a denial does not use it up
    assert asked_again["extension_request"] is not None


async def test_only_an_approver_in_scope_decides_a_request(api: Api, clock: FakeClock) -> None:
    case = await dispatched(api)
    await ask(api, case)
    own = await api.act("w1", case["id"], "approve_extension")
    assert own.status_code == 403  # the worker who asked cannot approve it
    assert (await api.act("w2", case["id"], "approve_extension")).status_code == 403
    version = (await api.case("sup", case["id"]))["version"]
    elsewhere = await api.act("sup2", case["id"], "approve_extension", version=version)
    assert elsewhere.status_code == 404  # a supervisor of another street does not see the case
    assert (
        await api.act("w1", case["id"], "extend", until="2099-01-01T00:00:00+00:00", reason="x")
    ).status_code == 403
    still = await api.case("sup", case["id"])
    assert still["extension_request"] is not None and still["extension_count"] == 0


async def test_request_lapses_when_the_case_leaves_mediation(api: Api, clock: FakeClock) -> None:
    case = await dispatched(api)
    await ask(api, case)
    resolved = await api.act("w1", case["id"], "resolve", outcome="resolved", summary="Agreed quiet hours")
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["extension_request"] is None
    timeline = (await api.as_user("sup", "GET", f"/api/reports/timeline/{case['id']}")).json()
    resolution = next(c for c in timeline["clocks"] if c["clock"] == "resolution")
    assert [r["status"] for r in resolution["extension_requests"]] == ["lapsed"]


async def test_extension_beyond_the_limit_or_backwards_names_until(api: Api, clock: FakeClock) -> None:
    case = await dispatched(api)
    due = at(case["deadlines"]["resolution_due"])
    for until in (due - timedelta(hours=1), due + timedelta(days=16)):
        response = await api.act("w1", case["id"], "request_extension", until=until.isoformat(), reason="x")
        assert response.status_code == 400
        assert "until" in response.json()["detail"]


async def test_supervisor_extends_directly_once(api: Api, clock: FakeClock) -> None:
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


async def test_sweeper_batch_keeps_each_timers_own_steps(
    settings: Settings, api: Api, clock: FakeClock
) -> None:
    """The timers of one batch are written by one UPDATE: each keeps its own stage, times and count."""
    late = await dispatched(api)
    clock.advance(hours=10)
    early = await dispatched(api)
    clock.now = MONDAY_9AM_BEIJING + timedelta(hours=20)  # late: 83% of its response clock; early: 42%
    assert (await sweep(api))["reminded"] == 1
    clock.now = MONDAY_9AM_BEIJING + timedelta(hours=31)  # late overdue by 7 h; early at 88%
    assert await sweep(api) == {"claimed": 2, "reminded": 1, "escalated": 1, "closed": 0, "conflicts": 0}
    query = (
        "SELECT case_id, stage, escalations, reminded_at IS NOT NULL, overdue_at IS NOT NULL "
        f"FROM jiesu_sla_timer WHERE case_id IN ({late['id']}, {early['id']}) ORDER BY case_id"
    )
    rows = [tuple(row) for row in await rawdb.execute(settings.database_url, query)]
    assert rows == [(late["id"], "again", 1, True, True), (early["id"], "due", 0, True, False)]


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
    events = (await api.as_user("disp", "GET", f"/api/cases/{case['id']}/events")).json()
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
