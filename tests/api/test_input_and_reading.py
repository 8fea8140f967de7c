"""Bad input answers 400 naming the field; listings filter and paginate; the queue is ordered."""

from __future__ import annotations

import pytest

from tests.conftest import Api


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("dispatch", {}, "assignee"),
        ("dispatch", {"assignee": ""}, "assignee"),
        ("reject", {"reason": "   "}, "reason"),
        ("transfer", {"reason": "x"}, "jurisdiction_code"),
        ("transfer", {"jurisdiction_code": "NOPE", "reason": "x"}, "jurisdiction_code"),
        ("merge", {"into": "seven"}, "into"),
        ("dispatch", {"assignee": "w1", "asignee": "w2"}, "asignee"),
    ],
)
async def test_a_missing_or_bad_field_answers_400_naming_it(
    api: Api, action: str, body: dict, field: str
) -> None:
    case = await api.file()
    response = await api.act("disp", case["id"], action, **body)
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]
    assert (await api.case("disp", case["id"]))["version"] == case["version"]


async def test_missing_version_answers_400(api: Api) -> None:
    case = await api.file()
    response = await api.as_user(
        "disp", "POST", f"/api/cases/{case['id']}/actions/dispatch", json={"assignee": "w1"}
    )
    assert response.status_code == 400
    assert "version" in response.json()["detail"]


async def test_rating_out_of_range_names_satisfaction(api: Api) -> None:
    case = await api.file()
    response = await api.act("alice", case["id"], "rate", resolved=True, satisfaction=9)
    assert response.status_code == 400
    assert "satisfaction" in response.json()["detail"]


async def test_unknown_action_answers_404(api: Api) -> None:
    case = await api.file()
    response = await api.act("disp", case["id"], "teleport")
    assert response.status_code == 404
    assert "teleport" in response.json()["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"title": None}, "title"),
        ({"kind": "rant"}, "kind"),
        ({"category": "unicorns"}, "category"),
        ({"jurisdiction_code": "ZZ"}, "jurisdiction_code"),
        ({"contact": {"name": "A", "phone": "call me"}}, "contact.phone"),
        ({"priority": "asap"}, "priority"),
    ],
)
async def test_filing_with_a_bad_field_answers_400_naming_it(api: Api, change: dict, field: str) -> None:
    body = {
        "kind": "complaint",
        "category": "sanitation",
        "title": "t",
        "description": "d",
        "address": "a",
        "contact": {"name": "Li", "phone": "13500000000"},
        **change,
    }
    body = {k: v for k, v in body.items() if v is not None}
    response = await api.as_user("alice", "POST", "/api/cases", json=body)
    assert response.status_code == 400, response.text
    assert field in response.json()["detail"]
    assert (await api.as_user("alice", "GET", "/api/cases")).json()["items"] == []


async def test_anonymous_filing_needs_contact_details(api: Api) -> None:
    response = await api.client.post(
        "/api/cases",
        json={"kind": "complaint", "title": "t", "description": "d", "address": "a"},
    )
    assert response.status_code == 400
    assert "contact" in response.json()["detail"]


async def test_a_registered_resident_files_with_the_phone_of_their_profile(api: Api) -> None:
    registered = await api.client.post(
        "/api/residents",
        json={
            "username": "carol",
            "password": "carol-pass-1",
            "display_name": "Carol",
            "phone": "13311112222",
        },
    )
    assert registered.status_code == 201, registered.text
    response = await api.as_user(
        "carol",
        "POST",
        "/api/cases",
        json={"kind": "request", "title": "t", "description": "d", "address": "a"},
        headers=await api.login("carol", "carol-pass-1"),
    )
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["contact"] == {"name": "Carol", "phone": "13311112222"}
    assert case["state"] == "intake"
    assert case["access_code"] is None


async def test_wrong_password_answers_401(api: Api) -> None:
    response = await api.client.post("/api/auth/token", json={"username": "alice", "password": "nope-nope"})
    assert response.status_code == 401
    unknown = await api.client.post("/api/auth/token", json={"username": "nobody", "password": "nope-nope"})
    assert unknown.status_code == 401


async def test_listing_filters_and_paginates_with_a_cursor(api: Api) -> None:
    ids = [(await api.file(category="parking" if i % 2 else "sanitation"))["id"] for i in range(5)]
    await api.act("disp", ids[0], "dispatch", assignee="w1")
    seen: list[int] = []
    url = "/api/cases?limit=2"
    while True:
        page = (await api.as_user("disp", "GET", url)).json()
        assert "items" in page, page
        seen += [item["id"] for item in page["items"]]
        if not page["next_cursor"]:
            break
        url = f"/api/cases?limit=2&cursor={page['next_cursor']}"
    assert seen == sorted(ids, reverse=True)
    parking = (await api.as_user("disp", "GET", "/api/cases?category=parking")).json()["items"]
    assert {c["id"] for c in parking} == {ids[1], ids[3]}
    mediation = (await api.as_user("disp", "GET", "/api/cases?state=mediation")).json()["items"]
    assert [c["id"] for c in mediation] == [ids[0]]
    mine = (await api.as_user("disp", "GET", "/api/cases?assignee=w1")).json()["items"]
    assert [c["id"] for c in mine] == [ids[0]]
    in_c3 = (await api.as_user("disp", "GET", "/api/cases?jurisdiction=C3")).json()["items"]
    assert in_c3 == []
    in_s1 = (await api.as_user("disp", "GET", "/api/cases?jurisdiction=S1")).json()["items"]
    assert len(in_s1) == 5
    not_late = (await api.as_user("disp", "GET", "/api/cases?overdue=false")).json()["items"]
    assert len(not_late) == 5
    bad = await api.as_user("disp", "GET", "/api/cases?cursor=garbage")
    assert bad.status_code == 400
    assert "cursor" in bad.json()["detail"]


async def test_the_worker_queue_puts_the_nearest_deadline_first(api: Api) -> None:
    normal = await api.file(priority="normal")
    urgent = await api.file(priority="urgent")
    other = await api.file()
    for case in (normal, urgent):
        await api.act("disp", case["id"], "dispatch", assignee="w1")
    await api.act("disp", other["id"], "dispatch", assignee="w2")
    queue = (await api.as_user("w1", "GET", "/api/queue")).json()
    assert [c["id"] for c in queue] == [urgent["id"], normal["id"]]
    assert queue[0]["deadlines"]["current"] < queue[1]["deadlines"]["current"]


async def test_urgent_cases_get_the_short_clocks(api: Api) -> None:
    from datetime import datetime

    urgent = await api.file(priority="urgent")
    received = datetime.fromisoformat(urgent["received_at"])
    response_due = datetime.fromisoformat(urgent["deadlines"]["response_due"])
    resolution_due = datetime.fromisoformat(urgent["deadlines"]["resolution_due"])
    assert (response_due - received).total_seconds() == 2 * 3600
    assert (resolution_due - received).total_seconds() == 24 * 3600
    normal = await api.file(category="sanitation")
    received = datetime.fromisoformat(normal["received_at"])
    assert (datetime.fromisoformat(normal["deadlines"]["response_due"]) - received).days == 1
    assert (datetime.fromisoformat(normal["deadlines"]["resolution_due"]) - received).days == 7


async def test_health_and_openapi_are_public(api: Api) -> None:
    assert (await api.client.get("/health")).json() == {"status": "ok"}
    schema = await api.client.get("/schema/openapi.json")
    assert schema.status_code == 200
    assert "/api/cases/{case_id}/actions/{action}" in schema.json()["paths"]


async def test_overdue_filter_and_flag_follow_the_clock(api: Api, clock) -> None:  # type: ignore[no-untyped-def]
    urgent = await api.file(priority="urgent")
    normal = await api.file(priority="normal")
    clock.advance(hours=3)
    late = (await api.as_user("disp", "GET", "/api/cases?overdue=true")).json()["items"]
    assert [c["id"] for c in late] == [urgent["id"]]
    assert late[0]["overdue"] is True
    on_time = (await api.as_user("disp", "GET", "/api/cases?overdue=false")).json()["items"]
    assert [c["id"] for c in on_time] == [normal["id"]]
