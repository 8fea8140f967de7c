"""The whole lifecycle through HTTP, one test per path."""

from __future__ import annotations

from tests.conftest import Api


async def _to_mediation(api: Api, worker: str = "w1") -> dict:
    case = await api.file()
    assert case["state"] == "triage"
    response = await api.act("disp", case["id"], "dispatch", assignee=worker)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "mediation"
    return response.json()


async def _to_feedback(api: Api) -> dict:
    case = await _to_mediation(api)
    assert (await api.act("w1", case["id"], "contact", note="Called the neighbour")).status_code == 200
    resolved = await api.act(
        "w1", case["id"], "resolve", outcome="resolved", summary="Neighbour agreed to quiet hours"
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["state"] == "resolution"
    approved = await api.act("sup", case["id"], "approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "feedback"
    assert approved.json()["deadlines"]["feedback_due"] is not None
    return approved.json()


async def test_satisfied_filer_closes_the_case(api: Api) -> None:
    case = await _to_feedback(api)
    rated = await api.act("alice", case["id"], "rate", resolved=True, satisfaction=5)
    assert rated.status_code == 200, rated.text
    body = rated.json()
    assert body["state"] == "closed"
    assert body["satisfaction"] == 5
    assert body["closed_at"] is not None
    events = (await api.as_user("alice", "GET", f"/api/cases/{case['id']}/events")).json()
    assert [e["action"] for e in events] == [
        "file",
        "accept",
        "dispatch",
        "contact",
        "resolve",
        "approve",
        "rate",
    ]
    assert events[0]["from_state"] is None and events[-1]["to_state"] == "closed"


async def test_unsatisfied_filer_reopens_at_most_twice(api: Api) -> None:
    case = await _to_feedback(api)
    case_id = case["id"]
    for round_no in (1, 2):
        reopened = await api.act("alice", case_id, "rate", resolved=False, satisfaction=1)
        assert reopened.json()["state"] == "mediation", reopened.text
        assert reopened.json()["reopen_count"] == round_no
        assert reopened.json()["outcome"] is None
        await api.act("w1", case_id, "resolve", outcome="resolved", summary=f"try {round_no + 1}")
        await api.act("sup", case_id, "approve")
    final = await api.act("alice", case_id, "rate", resolved=False, satisfaction=2)
    assert final.json()["state"] == "closed"
    assert final.json()["reopen_count"] == 2


async def test_first_contact_is_the_response(api: Api) -> None:
    case = await _to_mediation(api)
    assert case["responded_at"] is None
    contacted = (await api.act("w1", case["id"], "contact", note="Phoned")).json()
    assert contacted["responded_at"] is not None
    assert contacted["deadlines"]["current"] == contacted["deadlines"]["resolution_due"]
    again = (await api.act("w1", case["id"], "contact", note="Visited")).json()
    assert again["responded_at"] == contacted["responded_at"]


async def test_supervisor_sends_a_resolution_back(api: Api) -> None:
    case = await _to_mediation(api)
    await api.act("w1", case["id"], "resolve", outcome="resolved", summary="done")
    back = await api.act("sup", case["id"], "send_back", reason="No evidence of contact")
    assert back.json()["state"] == "mediation"
    assert back.json()["resolved_at"] is None


async def test_dispatcher_rejects_an_out_of_scope_case(api: Api) -> None:
    case = await api.file()
    rejected = await api.act("disp", case["id"], "reject", reason="A court matter")
    assert rejected.status_code == 200
    assert rejected.json()["state"] == "closed"
    assert rejected.json()["outcome"] == "rejected"


async def test_transfer_moves_the_case_to_another_jurisdiction(api: Api) -> None:
    case = await _to_mediation(api)
    moved = await api.act("disp", case["id"], "transfer", jurisdiction_code="C3", reason="Wrong area")
    assert moved.status_code == 200, moved.text
    body = moved.json()
    assert body["state"] == "triage"
    assert body["jurisdiction_code"] == "C3"
    assert body["assignee"] is None
    assert (await api.as_user("w1", "GET", f"/api/cases/{case['id']}")).status_code == 404
    claimed = await api.act("w3", case["id"], "claim")
    assert claimed.status_code == 200, claimed.text
    assert claimed.json()["assignee"] == "w3"


async def test_merge_closes_a_duplicate_into_the_original(api: Api) -> None:
    original = await api.file()
    duplicate = await api.file(username="bob")
    merged = await api.act("disp", duplicate["id"], "merge", into=original["id"])
    assert merged.status_code == 200, merged.text
    assert merged.json()["state"] == "closed"
    assert merged.json()["merged_into"] == original["id"]
    assert merged.json()["outcome"] == "merged"
    self_merge = await api.act("disp", original["id"], "merge", into=original["id"])
    assert self_merge.status_code == 400
    assert "into" in self_merge.json()["detail"]


async def test_filer_withdraws_a_case(api: Api) -> None:
    case = await _to_mediation(api)
    withdrawn = await api.act("alice", case["id"], "withdraw", reason="Sorted it out myself")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["state"] == "closed"
    assert withdrawn.json()["outcome"] == "withdrawn"


async def test_anonymous_filer_tracks_and_rates_with_the_access_code(api: Api) -> None:
    case = await api.file(username=None)
    assert case["access_code"]
    assert case["contact"]["phone"] == "13812345678"
    case_id = case["id"]
    await api.act("disp", case_id, "dispatch", assignee="w1")
    await api.act("w1", case_id, "contact", note="called")
    await api.act("w1", case_id, "resolve", outcome="resolved", summary="fixed")
    await api.act("disp", case_id, "approve")

    wrong = await api.client.post(
        "/api/track", json={"tracking_no": case["tracking_no"], "access_code": "WRONGCODE1"}
    )
    assert wrong.status_code == 404
    tracked = await api.client.post(
        "/api/track", json={"tracking_no": case["tracking_no"], "access_code": case["access_code"]}
    )
    assert tracked.status_code == 200, tracked.text
    headers = {"Authorization": f"Bearer {tracked.json()['access_token']}"}
    seen = await api.client.get(f"/api/cases/{case_id}", headers=headers)
    assert seen.status_code == 200
    assert seen.json()["allowed_actions"] == ["rate"]
    other = await api.file()
    assert (await api.client.get(f"/api/cases/{other['id']}", headers=headers)).status_code == 404
    rated = await api.client.post(
        f"/api/cases/{case_id}/actions/rate",
        json={"version": seen.json()["version"], "resolved": True, "satisfaction": 4},
        headers=headers,
    )
    assert rated.status_code == 200, rated.text
    assert rated.json()["state"] == "closed"


async def test_case_without_jurisdiction_waits_in_intake_for_a_dispatcher(api: Api) -> None:
    case = await api.file(jurisdiction_code=None)
    assert case["state"] == "intake"
    missing = await api.act("disp", case["id"], "accept")
    assert missing.status_code == 400
    assert "jurisdiction_code" in missing.json()["detail"]
    accepted = await api.act("disp", case["id"], "accept", jurisdiction_code="C1")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["state"] == "triage"


async def test_extension_moves_the_resolution_deadline_once(api: Api) -> None:
    case = await _to_mediation(api)
    due = case["deadlines"]["resolution_due"]
    from datetime import datetime, timedelta

    until = (datetime.fromisoformat(due) + timedelta(days=3)).isoformat()
    asked = await api.act("w1", case["id"], "request_extension", until=until, reason="Waiting for a repair")
    assert asked.status_code == 200, asked.text
    extended = await api.act("sup", case["id"], "approve_extension")
    assert extended.status_code == 200, extended.text
    assert datetime.fromisoformat(extended.json()["deadlines"]["resolution_due"]) == datetime.fromisoformat(
        until
    )
    assert "extend" not in extended.json()["allowed_actions"]
    later = (datetime.fromisoformat(until) + timedelta(days=1)).isoformat()
    again = await api.act("w1", case["id"], "request_extension", until=later, reason="more")
    assert again.status_code == 409
