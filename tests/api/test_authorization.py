"""Who may see and do what: each role against each endpoint, on their own and on others' cases."""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORD, Api

# alice files a case in community C1 (street S1); who may read it?
READ_C1_CASE = {
    "alice": 200,  # the filer
    "bob": 404,  # another resident: the case does not exist for him
    "w1": 200,  # worker of C1
    "w3": 404,  # worker of C3, another street
    "streetw": 200,  # worker of street S1, above C1
    "sup": 200,  # supervisor of S1
    "sup2": 404,  # supervisor of S2
    "disp": 200,  # city-wide dispatcher
    "disp2": 404,  # dispatcher of S2
    "admin": 200,
}


@pytest.mark.parametrize(("user", "status"), READ_C1_CASE.items())
async def test_reading_a_case_follows_the_jurisdiction_tree(api: Api, user: str, status: int) -> None:
    case = await api.file("alice")
    for url in (f"/api/cases/{case['id']}", f"/api/cases/{case['id']}/events"):
        response = await api.as_user(user, "GET", url)
        assert response.status_code == status, (url, response.text)
    listed = await api.as_user(user, "GET", "/api/cases")
    assert listed.status_code == 200
    ids = [item["id"] for item in listed.json()["items"]]
    assert (case["id"] in ids) == (status == 200)


async def test_anonymous_callers_must_log_in_to_read(api: Api) -> None:
    case = await api.file("alice")
    for url in ("/api/cases", f"/api/cases/{case['id']}", "/api/queue", "/api/audit/verify"):
        assert (await api.client.get(url)).status_code == 401, url


@pytest.mark.parametrize(
    ("user", "status"),
    [("alice", 201), ("disp", 201), (None, 201), ("w1", 403), ("sup", 403), ("admin", 403)],
)
async def test_who_may_file_a_case(api: Api, user: str | None, status: int) -> None:
    body = {
        "kind": "complaint",
        "category": "sanitation",
        "title": "Bins overflowing",
        "description": "Since Monday",
        "address": "Lane 5",
        "contact": {"name": "Zhou Min", "phone": "13700000000"},
    }
    response = await api.as_user(user, "POST", "/api/cases", json=body)
    assert response.status_code == status, response.text
    if status == 201:
        expected_channel = {"alice": "web", "disp": "hotline", None: "anonymous"}[user]
        assert response.json()["channel"] == expected_channel


@pytest.mark.parametrize("user", ["alice", "w1", "disp", "sup"])
async def test_only_admins_manage_jurisdictions_and_users(api: Api, user: str) -> None:
    jurisdiction = {"code": "X1", "name": "X", "level": "street", "parent_code": "D1"}
    assert (await api.as_user(user, "POST", "/api/jurisdictions", json=jurisdiction)).status_code == 403
    new_user = {"username": "eve", "password": "long-password", "role": "admin", "display_name": "Eve"}
    assert (await api.as_user(user, "POST", "/api/users", json=new_user)).status_code == 403
    assert (await api.as_user(user, "GET", "/api/users")).status_code == 403


@pytest.mark.parametrize(("user", "status"), [("sup", 200), ("admin", 200), ("w1", 403), ("alice", 403)])
async def test_audit_verification_is_for_supervisors_and_admins(api: Api, user: str, status: int) -> None:
    assert (await api.as_user(user, "GET", "/api/audit/verify")).status_code == status


@pytest.mark.parametrize(
    ("user", "action", "body"),
    [
        ("alice", "dispatch", {"assignee": "w1"}),  # a resident cannot dispatch, even her own case
        ("w1", "approve", {}),  # a worker cannot approve
        ("sup", "rate", {"resolved": True, "satisfaction": 5}),  # only the filer rates
        ("w1", "reject", {"reason": "no"}),
    ],
)
async def test_a_role_that_may_not_act_gets_403(api: Api, user: str, action: str, body: dict) -> None:
    case = await api.file("alice")
    response = await api.act(user, case["id"], action, **body)
    assert response.status_code == 403, response.text
    assert (await api.case("alice", case["id"]))["version"] == case["version"]


async def test_only_the_assignee_works_the_case(api: Api) -> None:
    case = await api.file("alice")
    await api.act("disp", case["id"], "dispatch", assignee="w1")
    response = await api.act("w2", case["id"], "contact", note="I am not the assignee")
    assert response.status_code == 403
    assert (await api.act("w1", case["id"], "contact", note="hello")).status_code == 200


async def test_dispatch_refuses_a_worker_of_another_jurisdiction(api: Api) -> None:
    case = await api.file("alice")
    response = await api.act("disp", case["id"], "dispatch", assignee="w3")
    assert response.status_code == 400
    assert "assignee" in response.json()["detail"]


async def test_phone_and_name_are_masked_for_roles_that_do_not_need_them(api: Api) -> None:
    case = await api.file("alice")
    full = {"name": "Alice Liu", "phone": "13812345678"}
    assert (await api.case("alice", case["id"]))["contact"] == full
    assert (await api.case("disp", case["id"]))["contact"] == full
    masked = {"name": "A********", "phone": "138****5678"}
    assert (await api.case("sup", case["id"]))["contact"] == masked
    assert (await api.case("w1", case["id"]))["contact"] == masked
    await api.act("disp", case["id"], "dispatch", assignee="w1")
    assert (await api.case("w1", case["id"]))["contact"] == full
    assert (await api.case("w2", case["id"]))["contact"] == masked


async def add_place(api: Api, code: str, level: str, parent: str) -> None:
    body = {"code": code, "name": code, "level": level, "parent_code": parent}
    response = await api.as_user("admin", "POST", "/api/jurisdictions", json=body)
    assert response.status_code == 201, response.text


async def test_an_underscore_in_a_code_is_no_wildcard_in_the_scope_filters(api: Api) -> None:
    await add_place(api, "SX1", "street", "D1")
    await add_place(api, "CX1", "community", "SX1")
    await add_place(api, "S_1", "street", "D1")
    await add_place(api, "C_1", "community", "S_1")
    user = {"username": "disp_s", "password": PASSWORD, "role": "dispatcher", "display_name": "D"}
    created = await api.as_user("admin", "POST", "/api/users", json={**user, "jurisdiction_code": "S_1"})
    assert created.status_code == 201, created.text
    other = await api.file("alice", jurisdiction_code="CX1")
    own = await api.file("alice", jurisdiction_code="C_1")
    listed = await api.as_user("disp_s", "GET", "/api/cases")
    ids = [item["id"] for item in listed.json()["items"]]
    assert own["id"] in ids and other["id"] not in ids
    queue = (await api.as_user("disp_s", "GET", "/api/queue")).json()
    assert other["id"] not in [item["id"] for item in queue]
    assert (await api.as_user("disp_s", "GET", f"/api/cases/{other['id']}")).status_code == 404
    by_code = await api.as_user("admin", "GET", "/api/cases?jurisdiction=S_1")
    assert [item["id"] for item in by_code.json()["items"]] == [own["id"]]
    wildcard = await api.as_user("admin", "GET", "/api/cases?jurisdiction=S%25")
    assert wildcard.status_code == 200 and wildcard.json()["items"] == []  # no code, no case


async def test_a_code_that_differs_only_in_case_is_refused(api: Api) -> None:
    body = {"code": "s1", "name": "Street one again", "level": "street", "parent_code": "D1"}
    response = await api.as_user("admin", "POST", "/api/jurisdictions", json=body)
    assert response.status_code == 409 and "S1" in response.json()["detail"]
    listed = (await api.as_user("admin", "GET", "/api/jurisdictions")).json()
    assert "s1" not in [j["code"] for j in listed]


async def test_a_filer_reads_the_timeline_as_the_case_page_tells_it(api: Api) -> None:
    case = await api.file(None)  # an anonymous filing: its access code is the filer's only key
    if case["assignee"] is None:
        assert (await api.act("disp", case["id"], "dispatch", assignee="w1")).status_code == 200
    note = "INTERNAL: the son owes the neighbour money"
    assert (await api.act("w1", case["id"], "contact", note=note)).status_code == 200
    escalated = await api.act(
        "w1", case["id"], "escalate", reason="INTERNAL: threats were made", department="Police liaison"
    )
    assert escalated.status_code == 200, escalated.text
    tracked = await api.client.post(
        "/api/track", json={"tracking_no": case["tracking_no"], "access_code": case["access_code"]}
    )
    headers = {"Authorization": f"Bearer {tracked.json()['access_token']}"}
    response = await api.client.get(f"/api/cases/{case['id']}/events", headers=headers)
    assert response.status_code == 200, response.text
    events = response.json()
    assert "INTERNAL" not in response.text and "Police" not in response.text
    assert {event["actor"] for event in events} == {None}
    by_action = {event["action"]: event["fields"] for event in events}
    assert by_action["contact"] == {} and by_action["escalate"] == {}
    assert by_action["dispatch"] == {"assignee": "w1"}  # the page names the handler too
    staff = (await api.as_user("disp", "GET", f"/api/cases/{case['id']}/events")).json()
    assert {"contact": note} == {e["action"]: e["fields"]["note"] for e in staff if e["action"] == "contact"}
    assert "w1" in {e["actor"] for e in staff}


async def test_a_resident_reads_their_own_timeline_redacted_too(api: Api) -> None:
    case = await api.file("alice")
    if case["assignee"] is None:
        assert (await api.act("disp", case["id"], "dispatch", assignee="w1")).status_code == 200
    assert (await api.act("w1", case["id"], "contact", note="INTERNAL: do not tell her")).status_code == 200
    response = await api.as_user("alice", "GET", f"/api/cases/{case['id']}/events")
    assert response.status_code == 200 and "INTERNAL" not in response.text
    assert {event["actor"] for event in response.json()} == {None}
