"""Time-dependent pages: the queue's order and overdue marks, the dashboard's overdue table and rates."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from litestar.testing import AsyncTestClient

from jiesu.app import create_app
from jiesu.config import Settings
from tests.conftest import ADMIN_PASSWORD, PASSWORD, WORLD_JURISDICTIONS, WORLD_USERS, Api
from tests.web.test_pages import post_form, web_login


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def timed(settings: Settings) -> AsyncIterator[tuple[Api, FakeClock]]:
    clock = FakeClock()
    async with AsyncTestClient(create_app(settings, clock=clock)) as client:
        api = Api(client)
        await api.login("admin", ADMIN_PASSWORD)
        for code, name, level, parent in WORLD_JURISDICTIONS:
            body = {"code": code, "name": name, "level": level, "parent_code": parent}
            assert (await api.as_user("admin", "POST", "/api/jurisdictions", json=body)).status_code == 201
        for username, role, jurisdiction in WORLD_USERS:
            body = {
                "username": username,
                "password": PASSWORD,
                "role": role,
                "display_name": username.title(),
                "phone": "13900000000",
                "jurisdiction_code": jurisdiction,
            }
            assert (await api.as_user("admin", "POST", "/api/users", json=body)).status_code == 201
        yield api, clock


async def test_the_queue_puts_urgent_first_and_marks_overdue(timed: tuple[Api, FakeClock]) -> None:
    api, clock = timed
    normal = await api.file("alice", title="Noise upstairs")
    urgent = await api.file("alice", title="Gas smell in the stairwell", priority="urgent")
    clock.now += timedelta(hours=3)  # past the urgent case's 2 h response deadline only
    await web_login(api.client, "w1")
    html = (await api.client.get("/web/work")).text
    titles = re.findall(r"<strong>([^<]+)</strong></a>", html)
    assert titles == [urgent["title"], normal["title"]]
    assert 'id="count-total">2<' in html and 'id="count-urgent">1<' in html
    assert 'id="count-overdue">1<' in html
    cards = html.split('<li class="card')[1:]
    assert " overdue" in cards[0].split(">")[0] and "Overdue" in cards[0]
    assert "Overdue" not in cards[1]


async def test_the_dashboard_shows_overdue_cases_by_level_and_missed_responses(
    timed: tuple[Api, FakeClock],
) -> None:
    api, clock = timed
    late = await api.file("alice")
    escalated = await api.file("alice", title="Lift broken")
    await api.act("w1", escalated["id"], "claim")
    await api.act("w1", escalated["id"], "escalate", level="street", reason="Needs the street office")
    clock.now += timedelta(days=8)  # past both response (24 h) and resolution (7 d) deadlines
    await web_login(api.client, "sup")
    html = (await api.client.get("/web/dashboard")).text
    assert 'id="overdue-total">2<' in html and 'id="due-soon-total">0<' in html
    overdue = html.split('id="overdue"')[1].split("</table>")[0]
    # every level of the tree over the two C1 cases, escalated or not (GET /api/reports/overdue)
    assert re.findall(
        r'<tr data-code="(\w+)"><th[^>]*>[^<]+</th><td[^>]*>(\w+)</td><td[^>]*>(\d+)</td>', overdue
    ) == [
        ("D1", "District", "2"),
        ("S1", "Street", "2"),
        ("C1", "Community", "2"),
    ]
    report = (await api.as_user("sup", "GET", "/api/reports/overdue")).json()
    assert [(e["code"], e["overdue"]) for e in report["by_level"]["street"]] == [("S1", 2)]
    c1 = html.split('data-code="C1"')[1].split("</tr>")[0]
    assert re.findall(r"<td[^>]*>([^<]+)</td>", c1)[:2] == ["2", "0%"]
    assert late["id"] != escalated["id"]


async def test_escalation_and_withdrawal_through_the_case_forms(timed: tuple[Api, FakeClock]) -> None:
    api, _ = timed
    case = await api.file("alice")
    await api.act("w1", case["id"], "claim")
    page = f"/web/cases/{case['id']}"
    await web_login(api.client, "w1")
    version = str((await api.case("w1", case["id"]))["version"])
    missing = await post_form(
        api.client, page, f"{page}/actions/escalate", {"version": version, "level": "street"}
    )
    assert missing.status_code == 400 and 'id="escalate-reason-error"' in missing.text
    assert '<option value="street" selected>' in missing.text  # the choice is kept
    done = await post_form(
        api.client, page, f"{page}/actions/escalate", {"version": version, "level": "street", "reason": "Big"}
    )
    assert done.status_code == 303
    assert (await api.case("w1", case["id"]))["escalation_level"] == "street"
    await web_login(api.client, "alice")
    version = str((await api.case("alice", case["id"]))["version"])
    gone = await post_form(
        api.client, page, f"{page}/actions/withdraw", {"version": version, "reason": "Solved it myself"}
    )
    assert gone.status_code == 303
    html = (await api.client.get(page)).text
    assert 'data-state="closed"' in html and "Withdrawn." in html
    assert 'class="action"' not in html


async def test_the_dashboard_shows_rising_hot_spots_and_daily_contact_times(
    timed: tuple[Api, FakeClock],
) -> None:
    api, clock = timed
    await api.file("alice", address="Building 1")
    clock.now += timedelta(days=8)  # the first case falls into the previous hot-spot window
    for hours in (1, 3):
        case = await api.file("bob", address="Building 2")
        clock.now += timedelta(hours=hours)
        await api.act("w1", case["id"], "claim")
        await api.act("w1", case["id"], "contact", note="Called")
    await api.file("alice", jurisdiction_code="C3")  # outside S1
    await web_login(api.client, "sup")
    html = (await api.client.get("/web/dashboard")).text
    spots = html.split('id="hot-spots"')[1].split("</table>")[0]
    assert re.findall(
        r"<tr><th[^>]*>([^<]+)</th><td[^>]*>([^<]+)</td><td[^>]*>(\d+)</td><td[^>]*>(\d+)</td><td[^>]*>(\d+)</td>",
        spots,
    ) == [("Community One", "Neighbour noise", "2", "1", "1")]
    report = (await api.as_user("sup", "GET", "/api/reports/rates?group_by=day")).json()
    today = next(g for g in report["groups"] if g["group"] == "2026-11-10")
    assert (today["contact_hours_p50"], today["contact_hours_p90"]) == (
        1.0,
        3.0,
    )  # nearest rank, not the mean 2.0
    times = html.split('id="times-h"')[1].split("</section>")[0]
    day = r'<th scope="row">2026-11-10</th>' + r"<td[^>]*>([^<]+)</td>" * 3
    assert re.findall(day, times) == [("2", "1.00", "3.00")]


async def _page_queue(api: Api, username: str) -> list[int]:
    await web_login(api.client, username)
    html = (await api.client.get("/web/work")).text
    return [int(case_id) for case_id in re.findall(r'/web/cases/(\d+)"><strong>', html)]


async def _api_queue(api: Api, username: str, query: str = "") -> list[int]:
    response = await api.as_user(username, "GET", f"/api/queue{query}")
    assert response.status_code == 200, response.text
    cases = response.json()
    by_urgency = sorted(
        cases,
        key=lambda c: (c["priority"] != "urgent", datetime.fromisoformat(c["deadlines"]["current"]), c["id"]),
    )
    assert cases == by_urgency  # urgent first, then the nearest deadline, then the older case
    return [case["id"] for case in cases]


async def _mixed_queue(api: Api, clock: FakeClock) -> dict[str, int]:
    """Cases of every kind a queue sorts: urgent and normal, near and far deadlines, equal keys,
    assigned to w1 or to someone else, claimable in w1's community or outside it, waiting on the desk."""
    ids: dict[str, int] = {}
    for name, priority in (
        ("old_normal", "normal"),
        ("old_urgent", "urgent"),
        ("twin_a", "normal"),
        ("twin_b", "normal"),
    ):
        ids[name] = (await api.file("alice", title=name, priority=priority))["id"]
    clock.now += timedelta(hours=1)
    for name, priority in (("new_normal", "normal"), ("new_urgent", "urgent"), ("w2s", "normal")):
        ids[name] = (await api.file("alice", title=name, priority=priority))["id"]
    ids["elsewhere"] = (await api.file("alice", title="elsewhere", jurisdiction_code="C3"))["id"]
    for name in ("old_normal", "new_urgent", "twin_b"):
        assert (await api.act("w1", ids[name], "claim")).status_code == 200
    assert (await api.act("w2", ids["w2s"], "claim")).status_code == 200
    assert (await api.act("disp", ids["twin_a"], "dispatch", assignee="w1")).status_code == 200
    resolved = await api.act("w1", ids["twin_b"], "resolve", outcome="resolved", summary="Done")
    assert resolved.status_code == 200  # resolution: still in w1's queue and on the desk
    return ids


async def test_the_api_and_the_page_give_a_worker_the_same_queue(timed: tuple[Api, FakeClock]) -> None:
    api, clock = timed
    ids = await _mixed_queue(api, clock)
    page = await _page_queue(api, "w1")
    assert page == await _api_queue(api, "w1", "?claimable=true")
    assert set(page) == {
        ids[n] for n in ("old_normal", "old_urgent", "twin_a", "twin_b", "new_normal", "new_urgent")
    }
    # urgent first, then the nearest deadline; equal keys by the older case
    assert page.index(ids["old_urgent"]) < page.index(ids["new_urgent"]) < page.index(ids["old_normal"])
    assert page.index(ids["twin_a"]) < page.index(ids["twin_b"])
    claimable = {ids["old_urgent"], ids["new_normal"]}
    assert await _api_queue(api, "w1") == [case_id for case_id in page if case_id not in claimable]


@pytest.mark.parametrize("username", ["disp", "sup"])
async def test_the_api_and_the_page_give_the_desk_the_same_queue(
    timed: tuple[Api, FakeClock], username: str
) -> None:
    api, clock = timed
    ids = await _mixed_queue(api, clock)
    page = await _page_queue(api, username)
    assert page == await _api_queue(api, username) == await _api_queue(api, username, "?claimable=true")
    assert ids["twin_b"] in page and ids["new_urgent"] not in page  # resolution waits on the desk
    assert page[0] == ids["old_urgent"]
