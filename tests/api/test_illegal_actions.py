"""Every action that the workflow does not allow in a state answers 409 and changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api

ACTOR_AND_BODY: dict[str, tuple[str, dict[str, Any]]] = {
    "accept": ("disp", {}),
    "dispatch": ("disp", {"assignee": "w1"}),
    "claim": ("w2", {}),
    "contact": ("w1", {"note": "called"}),
    "reassign": ("disp", {"assignee": "w2", "reason": "load"}),
    "escalate": ("disp", {"level": "street", "reason": "hard"}),
    "extend": ("disp", {"until": "2099-01-01T00:00:00+00:00", "reason": "parts"}),
    "request_extension": ("w1", {"until": "2099-01-01T00:00:00+00:00", "reason": "parts"}),
    # Legal in mediation only while a request is pending: without one they are refused there too.
    "approve_extension": ("sup", {}),
    "deny_extension": ("sup", {"reason": "no"}),
    "resolve": ("w1", {"outcome": "resolved", "summary": "done"}),
    "approve": ("sup", {}),
    "send_back": ("sup", {"reason": "again"}),
    "rate": ("alice", {"resolved": True, "satisfaction": 5}),
    "reject": ("disp", {"reason": "out of scope"}),
    "transfer": ("disp", {"jurisdiction_code": "C2", "reason": "wrong place"}),
    "merge": ("disp", {"into": 1}),
    "withdraw": ("alice", {"reason": "no longer needed"}),
}

LEGAL = {
    "intake": {"accept", "reject", "merge", "withdraw"},
    "triage": {"dispatch", "claim", "reject", "transfer", "merge", "withdraw"},
    "mediation": {
        *("contact", "reassign", "escalate", "extend", "request_extension", "resolve"),
        *("transfer", "merge", "withdraw"),
    },
    "resolution": {"approve", "send_back", "withdraw"},
    "feedback": {"rate"},
    "closed": set(),
}


async def _case_in(api: Api, state: str) -> dict[str, Any]:
    await api.file(title="merge target")  # case 1: a valid target for merge
    case = await api.file(category=None if state == "intake" else "neighbour_noise")
    steps = {
        "mediation": [("disp", "dispatch", {"assignee": "w1"})],
        "resolution": [
            ("disp", "dispatch", {"assignee": "w1"}),
            ("w1", "resolve", {"outcome": "resolved", "summary": "ok"}),
        ],
        "feedback": [
            ("disp", "dispatch", {"assignee": "w1"}),
            ("w1", "resolve", {"outcome": "resolved", "summary": "ok"}),
            ("sup", "approve", {}),
        ],
        "closed": [("disp", "reject", {"reason": "spam"})],
    }.get(state, [])
    for user, action, body in steps:
        response = await api.act(user, case["id"], action, **body)
        assert response.status_code == 200, response.text
    current = await api.case("disp", case["id"])
    assert current["state"] == state
    return current


@pytest.mark.parametrize("state", list(LEGAL))
async def test_illegal_actions_answer_409_and_change_nothing(api: Api, state: str) -> None:
    case = await _case_in(api, state)
    events_before = (await api.as_user("disp", "GET", f"/api/cases/{case['id']}/events")).json()
    for action, (user, body) in ACTOR_AND_BODY.items():
        if action in LEGAL[state]:
            continue
        response = await api.act(user, case["id"], action, version=case["version"], **body)
        assert response.status_code == 409, (state, action, response.text)
        detail = response.json()
        assert detail["state"] == state
        assert action not in detail["allowed_actions"]
    after = await api.case("disp", case["id"])
    assert after["version"] == case["version"]
    assert after["state"] == state
    events_after = (await api.as_user("disp", "GET", f"/api/cases/{case['id']}/events")).json()
    assert events_after == events_before


async def test_stale_version_answers_409_with_the_allowed_actions(api: Api) -> None:
    case = await api.file()
    response = await api.act("disp", case["id"], "dispatch", version=case["version"] + 5, assignee="w1")
    assert response.status_code == 409
    body = response.json()
    assert "version" in body["detail"]
    assert body["version"] == case["version"]
    assert "dispatch" in body["allowed_actions"]


async def test_allowed_actions_match_what_succeeds(api: Api) -> None:
    case = await api.file()
    seen = await api.case("disp", case["id"])
    assert set(seen["allowed_actions"]) == {"dispatch", "reject", "transfer", "merge"}
    assert set((await api.case("w1", case["id"]))["allowed_actions"]) == {"claim"}
    assert set((await api.case("alice", case["id"]))["allowed_actions"]) == {"withdraw", "add_info"}
    assert (await api.case("sup", case["id"]))["allowed_actions"] == [
        "dispatch",
        "merge",
        "reject",
        "transfer",
    ]


async def test_extension_is_refused_when_it_goes_backwards(api: Api) -> None:
    case = await api.file()
    await api.act("disp", case["id"], "dispatch", assignee="w1")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    response = await api.act("w1", case["id"], "request_extension", until=past, reason="x")
    assert response.status_code == 400
    assert "until" in response.json()["detail"]
