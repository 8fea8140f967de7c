"""Immediate dispatch: the routing table, the backstop, load balancing, duty, returns, rules as data."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.case_record import CaseRecord
from jiesu.cases.effects import Decide
from jiesu.config import PROJECT_ROOT
from jiesu.errors import field_error
from jiesu.routing.catalogue import load_catalogue
from tests.conftest import PASSWORD, Api

CATALOGUE = load_catalogue(PROJECT_ROOT / "workflows" / "categories.yaml")
ALL_CATEGORIES = [c.code for c in CATALOGUE.categories]
COMMUNITY_LEVEL = {c.code for c in CATALOGUE.categories if c.handling_level == "community"}


async def set_worker(api: Api, username: str, **fields: object) -> dict:
    response = await api.as_user("admin", "PATCH", f"/api/workers/{username}", json=fields)
    assert response.status_code == 200, response.text
    return response.json()


async def add_worker(api: Api, username: str, jurisdiction: str, skills: list[str]) -> None:
    response = await api.as_user(
        "admin",
        "POST",
        "/api/users",
        json={
            "username": username,
            "password": PASSWORD,
            "role": "worker",
            "display_name": username,
            "jurisdiction_code": jurisdiction,
            "categories": skills,
        },
    )
    assert response.status_code == 201, response.text


# Where a case filed at each level ends up: (level, unit, flagged) for community- and street-level rules.
EXPECTED = {
    "community": {
        "G1": ("community", "C1", False, "w1"),
        "C1": ("community", "C1", False, "w1"),
        "S1": ("street", "S1", True, "streetw"),
        "D1": (None, None, True, None),
    },
    "street": {
        "G1": ("street", "S1", False, "streetw"),
        "C1": ("street", "S1", False, "streetw"),
        "S1": ("street", "S1", False, "streetw"),
        "D1": (None, None, True, None),
    },
}


async def test_routing_table_every_category_at_every_jurisdiction_level(api: Api) -> None:
    await set_worker(api, "w1", skills=ALL_CATEGORIES, capacity=500)
    await set_worker(api, "streetw", skills=ALL_CATEGORIES, capacity=500)
    for category in ALL_CATEGORIES:
        kind = "community" if category in COMMUNITY_LEVEL else "street"
        for code, (level, unit, flagged, assignee) in EXPECTED[kind].items():
            case = await api.file(category=category, jurisdiction_code=code)
            where = f"{category} at {code}"
            assert case["routing"]["level"] == level, where
            assert case["routing"]["unit_code"] == unit, where
            assert case["routing"]["flagged"] is flagged, where
            assert case["assignee"] == assignee, where
            assert case["state"] == ("mediation" if assignee else "triage"), where
            assert case["deadlines"]["response_due"] and case["deadlines"]["resolution_due"]


async def test_dispatched_case_has_one_audit_event_per_change_and_tells_the_worker(api: Api) -> None:
    await set_worker(api, "w1", skills=["mediation"])
    case = await api.file()
    assert case["assignee"] == "w1" and case["state"] == "mediation"
    assert case["routing"]["rule_id"] == "neighbourhood-mediation"
    events = (await api.as_user("disp", "GET", f"/api/cases/{case['id']}/events")).json()
    assert [e["action"] for e in events] == ["file", "accept", "dispatch"]
    assert events[2]["actor"] == "system"
    assert events[2]["fields"]["assignee"] == "w1"
    assert events[2]["fields"]["responsible"] == "C1"
    outbox = (await api.as_user("admin", "GET", f"/api/notifications?case_id={case['id']}")).json()["items"]
    assert {(m["topic"], m["recipient"]) for m in outbox} >= {
        ("case.accepted", "alice"),
        ("case.assigned", "w1"),
        ("case.handler", "alice"),
    }


async def test_first_receiver_stays_responsible_when_other_units_assist(api: Api) -> None:
    await set_worker(api, "streetw", skills=["labour"])
    case = await api.file(category="wage_arrears")
    events = (await api.as_user("disp", "GET", f"/api/cases/{case['id']}/events")).json()
    dispatch = events[-1]["fields"]
    assert dispatch["responsible"] == "S1"
    assert dispatch["assist"] == ["labour-inspection"]
    assert case["assignee"] == "streetw"


async def test_no_skilled_worker_on_duty_leaves_the_case_flagged_in_triage(api: Api) -> None:
    case = await api.file()
    assert case["state"] == "triage" and case["assignee"] is None
    assert case["routing"]["reason"] == "no_worker" and case["routing"]["flagged"] is True
    flagged = (await api.as_user("disp", "GET", "/api/routing/flagged")).json()
    assert [c["id"] for c in flagged] == [case["id"]]


async def test_load_is_balanced_across_three_workers_weighted_by_priority(api: Api) -> None:
    await add_worker(api, "w4", "C1", ["mediation"])
    await set_worker(api, "w1", skills=["mediation"])
    await set_worker(api, "w2", skills=["mediation"])
    assignees = []
    for index in range(15):
        case = await api.file(priority="urgent" if index % 3 == 0 else "normal")
        assignees.append(case["assignee"])
    counts = Counter(assignees)
    assert set(counts) == {"w1", "w2", "w4"}
    assert max(counts.values()) - min(counts.values()) <= 2
    workers = {w["username"]: w for w in (await api.as_user("disp", "GET", "/api/workers")).json()}
    weighted = [workers[name]["weighted_load"] for name in ("w1", "w2", "w4")]
    assert max(weighted) - min(weighted) <= 2


async def test_off_duty_and_full_workers_are_skipped(api: Api) -> None:
    await set_worker(api, "w1", skills=["mediation"])
    await set_worker(api, "w2", skills=["mediation"], capacity=1)
    off = await api.as_user("w1", "PUT", "/api/workers/w1/duty", json={"on_duty": False})
    assert off.status_code == 200 and off.json()["on_duty"] is False
    first = await api.file()
    assert first["assignee"] == "w2"
    second = await api.file()
    assert second["assignee"] is None and second["routing"]["reason"] == "no_worker"
    back = await api.as_user("admin", "PUT", "/api/workers/w1/duty", json={"on_duty": True})
    assert back.status_code == 200
    assert (await api.file())["assignee"] == "w1"


async def test_only_the_worker_or_an_admin_switches_duty(api: Api) -> None:
    other = await api.as_user("w2", "PUT", "/api/workers/w1/duty", json={"on_duty": False})
    assert other.status_code == 403
    dispatcher = await api.as_user("disp", "PUT", "/api/workers/w1/duty", json={"on_duty": False})
    assert dispatcher.status_code == 403
    bad = await api.as_user("w1", "PUT", "/api/workers/w1/duty", json={"on_duty": "maybe"})
    assert bad.status_code == 400 and "on_duty" in bad.json()["detail"]
    missing = await api.as_user("admin", "PUT", "/api/workers/nobody/duty", json={"on_duty": False})
    assert missing.status_code == 404


async def test_returned_order_goes_back_to_triage_and_counts_against_the_router(api: Api) -> None:
    await set_worker(api, "w1", skills=["mediation"])
    case = await api.file()
    assert case["assignee"] == "w1"
    no_reason = await api.act("w1", case["id"], "return_order")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["detail"]
    by_other = await api.act("w2", case["id"], "return_order", reason="not ours")
    assert by_other.status_code == 403
    returned = await api.act("w1", case["id"], "return_order", reason="Not ours: the flat is in C2")
    assert returned.status_code == 200, returned.text
    assert returned.json()["state"] == "triage" and returned.json()["assignee"] is None
    events = (await api.as_user("disp", "GET", f"/api/cases/{case['id']}/events")).json()
    assert events[-1]["action"] == "return_order"
    assert events[-1]["fields"]["counts_against"] == "router"
    stats = {s["rule_id"]: s for s in (await api.as_user("admin", "GET", "/api/routing-rules/stats")).json()}
    assert stats["neighbourhood-mediation"]["returns"] == 1
    flagged = (await api.as_user("disp", "GET", "/api/routing/flagged")).json()
    assert case["id"] in [c["id"] for c in flagged]
    workers = {w["username"]: w for w in (await api.as_user("disp", "GET", "/api/workers")).json()}
    assert workers["w1"]["open_cases"] == 0


async def test_worker_claims_an_unassigned_case_of_their_jurisdiction(api: Api) -> None:
    case = await api.file()
    outsider = await api.act("w3", case["id"], "claim", version=case["version"])
    assert outsider.status_code == 404
    claimed = await api.act("w2", case["id"], "claim")
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "w2"
    again = await api.act("w1", case["id"], "claim", version=claimed.json()["version"])
    assert again.status_code == 409


async def test_queue_puts_the_nearest_deadline_first(api: Api) -> None:
    await set_worker(api, "w1", skills=["mediation", "labour", "safety"])
    normal = await api.file()
    urgent = await api.file(priority="urgent")
    queue = (await api.as_user("w1", "GET", "/api/queue")).json()
    assert [c["id"] for c in queue] == [urgent["id"], normal["id"]]


async def test_admin_edits_routing_rules_and_each_version_is_audited(api: Api) -> None:
    current = (await api.as_user("admin", "GET", "/api/routing-rules")).json()
    assert current["version"] == 0 and len(current["rules"]) >= 9
    rules = [r for r in current["rules"] if r["id"] != "neighbourhood-mediation"]
    body = {"version": 0, "backstop_level": "street", "rules": rules}
    saved = await api.as_user("admin", "PUT", "/api/routing-rules", json=body)
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 1 and saved.json()["saved_by"] == "admin"
    stale = await api.as_user("admin", "PUT", "/api/routing-rules", json=body)
    assert stale.status_code == 409
    await set_worker(api, "streetw", skills=["mediation"])
    await set_worker(api, "w1", skills=["mediation"])
    case = await api.file()  # no rule for neighbour noise now: the street's backstop takes it
    assert case["routing"]["reason"] == "backstop" and case["routing"]["flagged"] is True
    assert case["assignee"] == "streetw"
    verify = (await api.as_user("admin", "GET", "/api/audit/verify")).json()
    assert verify["ok"] is True


INVALID_RULES = [
    ([{"id": "x", "categories": ["no_such"], "level": "community"}], "rules.0.categories.0"),
    ([{"id": "x", "categories": ["parking"], "level": "planet"}], "rules.0.level"),
    (
        [{"id": "x", "categories": ["parking"], "level": "street", "jurisdictions": ["ZZ"]}],
        "rules.0.jurisdictions.0",
    ),
    ([{"id": "x", "categories": ["parking"], "level": "street"}] * 2, "rules"),
]


async def test_invalid_routing_rules_name_the_field(api: Api) -> None:
    for rules, field in INVALID_RULES:
        response = await api.as_user("admin", "PUT", "/api/routing-rules", json={"rules": rules})
        assert response.status_code == 400, response.text
        assert field in response.json()["detail"]
    assert (await api.as_user("disp", "PUT", "/api/routing-rules", json={"rules": []})).status_code == 403
    assert (await api.as_user("admin", "GET", "/api/routing-rules")).json()["version"] == 0


async def test_rule_for_one_jurisdiction_beats_the_general_rule(api: Api) -> None:
    current = (await api.as_user("admin", "GET", "/api/routing-rules")).json()
    special = {
        "id": "c3-parking-street",
        "categories": ["parking"],
        "jurisdictions": ["S2"],
        "level": "street",
    }
    body = {"rules": [*current["rules"], special]}
    assert (await api.as_user("admin", "PUT", "/api/routing-rules", json=body)).status_code == 200
    c1 = await api.file(category="parking", jurisdiction_code="C1")
    c3 = await api.file(category="parking", jurisdiction_code="C3")
    assert c1["routing"]["level"] == "community" and c1["routing"]["unit_code"] == "C1"
    assert c3["routing"]["rule_id"] == "c3-parking-street" and c3["routing"]["unit_code"] == "S2"


async def test_address_finds_the_grid_by_pattern_or_by_boundary(api: Api) -> None:
    await set_worker(api, "w1", skills=["mediation"])
    ok = await api.as_user("admin", "PUT", "/api/routing/areas/C1", json={"patterns": ["Jixiang Lane"]})
    assert ok.status_code == 200, ok.text
    square = [[116.39, 39.92], [116.40, 39.92], [116.40, 39.93], [116.39, 39.93]]
    grid = await api.as_user(
        "admin", "PUT", "/api/routing/areas/G1", json={"patterns": ["Jixiang Lane 3"], "boundary": square}
    )
    assert grid.status_code == 200, grid.text
    by_text = await api.file(jurisdiction_code=None, address="Building 7, Jixiang  Lane")
    assert by_text["jurisdiction_code"] == "C1" and by_text["routing"]["located_by"] == "address"
    assert by_text["assignee"] == "w1"
    longer = await api.file(jurisdiction_code=None, address="jixiang lane 3, unit 2")
    assert longer["jurisdiction_code"] == "G1"
    by_point = await api.file(jurisdiction_code=None, address="somewhere", lat=39.925, lon=116.395)
    assert by_point["jurisdiction_code"] == "G1" and by_point["routing"]["located_by"] == "boundary"
    nowhere = await api.file(jurisdiction_code=None, address="Unknown Road 1", lat=10.0, lon=10.0)
    assert nowhere["jurisdiction_code"] is None and nowhere["state"] == "intake"
    located = await api.as_user("disp", "POST", "/api/routing/locate", json={"address": "5 Jixiang Lane"})
    assert located.json() == {"jurisdiction_code": "C1", "level": "community", "located_by": "address"}
    street = await api.as_user("admin", "PUT", "/api/routing/areas/S1", json={"patterns": ["x y"]})
    assert street.status_code == 400 and "code" in street.json()["detail"]
    bad = await api.as_user(
        "admin", "PUT", "/api/routing/areas/C2", json={"boundary": [[200, 1], [1, 1], [1, 2]]}
    )
    assert bad.status_code == 400 and "boundary" in bad.json()["detail"]


async def test_concurrent_filings_are_balanced_and_no_worker_exceeds_capacity(api: Api) -> None:
    """Filings that arrive together are written in one batch: the loads it adds count at once."""
    await add_worker(api, "w4", "C1", ["mediation"])
    for name in ("w1", "w2", "w4"):
        await set_worker(api, name, skills=["mediation"], capacity=8)
    await api.login("alice")  # once: 30 parallel logins of one account are 30 attempts, and 25 wait (429)
    cases = await asyncio.gather(*(api.file() for _ in range(30)))
    counts = Counter(case["assignee"] for case in cases)
    assert counts == {"w1": 8, "w2": 8, "w4": 8, None: 6}
    assert len({case["tracking_no"] for case in cases}) == 30
    for case in cases:
        events = (await api.as_user("alice", "GET", f"/api/cases/{case['id']}/events")).json()
        expected = ["file", "accept", "dispatch"] if case["assignee"] else ["file", "accept"]
        assert [e["action"] for e in events] == expected
    report = (await api.as_user("admin", "GET", "/api/audit/verify")).json()
    assert report["ok"] is True


async def test_effect_hooks_decide_the_batched_accept_and_dispatch_as_they_decide_an_action(api: Api) -> None:
    await set_worker(api, "w1", skills=["mediation"])
    await set_worker(api, "w2", skills=["mediation"])
    prepared: list[tuple[str, int | None, str | None]] = []

    async def refuse_w1(
        actor: Principal, case: CaseRecord, action: str, payload: dict[str, Any], now: datetime
    ) -> Decide:
        prepared.append((action, case.id, payload.get("assignee")))

        def decide(final: dict[str, Any]) -> dict[str, Any]:
            if action in ("dispatch", "reassign") and final["assignee"] == "w1":
                raise field_error("assignee", "this hook refuses w1")
            return {}

        return decide

    api.client.app.state.cases.effect_hooks.append(refuse_w1)
    case = await api.file()
    # Prepared with the request (no id, no worker yet); decided in the batch: w1 refused, w2 chosen.
    assert prepared == [("accept", None, None), ("dispatch", None, None)]
    assert case["assignee"] == "w2" and case["state"] == "mediation"
    refused = await api.act("disp", case["id"], "reassign", assignee="w1", reason="back to w1")
    assert refused.status_code == 400 and "refuses w1" in refused.json()["detail"]
