"""Supervision reports over a hand-built set of cases whose figures are worked out by hand."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jiesu.config import Settings
from jiesu.reports.projection import refresh as refresh_copy
from jiesu.reports.rates import GroupBy, RatesQuery, rates_report
from jiesu.reports.sql import Scope
from tests import rawdb
from tests.conftest import Api

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=10)
WINDOW = {"from": (T0 - timedelta(days=1)).isoformat(), "to": (T0 + timedelta(days=1)).isoformat()}


@dataclass
class FakeClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def at(self, **delta: float) -> None:
        self.now = T0 + timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    """Replaces the conftest clock: the app in ``client`` reads this one."""
    return FakeClock(T0)


async def ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()


async def world(api: Api, clock: FakeClock) -> dict[str, int]:
    """The cases (times from T0; report time T0+10d, window T0-1d..T0+1d):

    A  C1 w1   contact +1h (met), resolved +2d (met), rated resolved 5            -> closed
    B  C1 w2   contact +30h (missed), extended 1d, resolved +9d (missed), rated
               not resolved 2 -> reopened, resolution clock overdue
    C  C2 streetw property_management: contact +1h (met), resolved +3d (met), rated resolved 3
    D  C3 w3   filed +16h (next day), never contacted: response and resolution missed
    E  C1      rejected +1h after filing: counted in neither clock
    F  C1 w1   contacted, then excluded by the supervisor: not counted, listed
    G  C1      filed 20 days before: outside the window
    H  C1      filed +9d2h, response due within the next 4 h: about to be overdue
    """
    ids: dict[str, int] = {}
    clock.at(days=-20)
    ids["G"] = (await api.file())["id"]
    clock.at(hours=0)
    ids["A"] = (await api.file())["id"]
    await ok(await api.act("disp", ids["A"], "dispatch", assignee="w1"))
    clock.at(hours=1)
    ids["B"] = (await api.file(address="Building 9, Jixiang Lane"))["id"]
    await ok(await api.act("disp", ids["B"], "dispatch", assignee="w2"))
    await ok(await api.act("w1", ids["A"], "contact", note="phoned"))
    clock.at(hours=2)
    ids["C"] = (await api.file(jurisdiction_code="C2", category="property_management"))["id"]
    await ok(await api.act("disp", ids["C"], "dispatch", assignee="streetw"))
    clock.at(hours=3)
    await ok(await api.act("streetw", ids["C"], "contact", note="visited"))
    clock.at(hours=4)
    ids["E"] = (await api.file())["id"]
    clock.at(hours=5)
    await ok(await api.act("disp", ids["E"], "reject", reason="not a matter for the community"))
    ids["F"] = (await api.file(contact={"name": "Fang Wu", "phone": "13812345678"}))["id"]
    await ok(await api.act("disp", ids["F"], "dispatch", assignee="w1"))
    clock.at(hours=6)
    await ok(await api.act("w1", ids["F"], "contact", note="phoned"))
    clock.at(hours=7)
    await ok(
        await api.as_user(
            "sup",
            "POST",
            "/api/reports/exclusions",
            json={"case_id": ids["F"], "reason": "asks the community to evict a lawful tenant"},
        )
    )
    clock.at(hours=16)
    ids["D"] = (await api.file(jurisdiction_code="C3"))["id"]
    await ok(await api.act("disp", ids["D"], "dispatch", assignee="w3"))
    clock.at(hours=30)
    contacted = await ok(await api.act("w2", ids["B"], "contact", note="phoned late"))
    until = datetime.fromisoformat(contacted["deadlines"]["resolution_due"]) + timedelta(days=1)
    await ok(
        await api.act(
            "w2", ids["B"], "request_extension", until=until.isoformat(), reason="waiting for a plumber"
        )
    )
    await ok(await api.act("sup", ids["B"], "approve_extension"))
    clock.at(days=2)
    await ok(await api.act("w1", ids["A"], "resolve", outcome="resolved", summary="quiet hours agreed"))
    await ok(await api.act("sup", ids["A"], "approve"))
    await ok(await api.act("alice", ids["A"], "rate", resolved=True, satisfaction=5))
    clock.at(days=3)
    await ok(await api.act("streetw", ids["C"], "resolve", outcome="resolved", summary="lift repaired"))
    await ok(await api.act("sup", ids["C"], "approve"))
    await ok(await api.act("alice", ids["C"], "rate", resolved=True, satisfaction=3))
    clock.at(days=9)
    await ok(await api.act("w2", ids["B"], "resolve", outcome="resolved", summary="pipe fixed"))
    await ok(await api.act("sup", ids["B"], "approve"))
    reopened = await ok(await api.act("alice", ids["B"], "rate", resolved=False, satisfaction=2))
    assert reopened["state"] == "mediation"
    clock.at(days=9, hours=2)
    ids["H"] = (await api.file())["id"]
    clock.now = NOW
    return ids


async def rates(api: Api, user: str = "admin", **params: Any) -> Any:
    return await api.as_user(user, "GET", "/api/reports/rates", params={**WINDOW, **params})


async def test_rates_follow_each_formula_on_the_hand_built_cases(
    api: Api, clock: FakeClock, settings: Settings
) -> None:
    ids = await world(api, clock)
    # a returned order (mediation -> triage) as the return feature records it
    await rawdb.execute(
        settings.database_url,
        "INSERT INTO jiesu_case_event (seq, case_id, actor, actor_role, action, from_state, to_state,"
        f" fields, created_at, prev_hash, hash) VALUES (999999, {ids['D']}, 'w3', 'worker', 'return_order',"
        " 'mediation', 'triage', '{}', '2026-03-03T02:00:00.000000+00:00', '', '')",
    )
    total = (await ok(await rates(api)))["total"]
    assert total["received"] == 5  # A B C D E; F excluded, G outside the window
    assert (total["response_counted"], total["responded_on_time"], total["response_rate"]) == (4, 2, 0.5)
    assert (total["resolution_counted"], total["resolved_on_time"]) == (4, 2)
    assert total["on_time_resolution_rate"] == 0.5
    assert (total["rated"], total["filer_resolved"], total["satisfied"]) == (3, 2, 1)
    assert total["resolution_rate"] == 0.6667
    assert total["satisfaction_rate"] == 0.3333
    assert total["composite_score"] == 50.0  # 30*0.5 + 35*0.6667 + 35*0.3333
    assert (total["reopened"], total["reopen_rate"]) == (1, 0.2)
    assert (total["returned"], total["returned_order_rate"]) == (1, 0.2)
    assert (total["contact_hours_p50"], total["contact_hours_p90"]) == (1.0, 29.0)
    assert (total["resolution_hours_p50"], total["resolution_hours_p90"]) == (48.0, 70.0)


async def test_rates_group_by_jurisdiction_with_a_community_nobody_rated(api: Api, clock: FakeClock) -> None:
    await world(api, clock)
    body = await ok(await rates(api, group_by="jurisdiction"))
    groups = {g["group"]: g for g in body["groups"]}
    assert set(groups) == {"C1", "C2", "C3"}
    c1, c2, c3 = groups["C1"], groups["C2"], groups["C3"]
    assert (c1["received"], c1["response_rate"], c1["resolution_rate"], c1["satisfaction_rate"]) == (
        3,
        0.5,
        0.5,
        0.5,
    )
    assert c1["composite_score"] == 50.0
    assert c1["reopen_rate"] == 0.3333
    assert (c2["response_rate"], c2["resolution_rate"], c2["satisfaction_rate"]) == (1.0, 1.0, 0.0)
    assert c2["composite_score"] == 65.0
    # C3: nobody rated: the two feedback rates are undefined, the score rests on the response rate
    assert (c3["rated"], c3["resolution_rate"], c3["satisfaction_rate"]) == (0, None, None)
    assert c3["response_rate"] == 0.0 and c3["composite_score"] == 0.0
    assert c3["contact_hours_p50"] is None


async def test_rates_group_by_worker_category_and_day(api: Api, clock: FakeClock) -> None:
    await world(api, clock)
    by_worker = {g["group"]: g["received"] for g in (await ok(await rates(api, group_by="worker")))["groups"]}
    assert by_worker == {"w1": 1, "w2": 1, "streetw": 1, "w3": 1, None: 1}
    by_category = (await ok(await rates(api, group_by="category")))["groups"]
    assert {g["group"]: g["received"] for g in by_category} == {
        "neighbour_noise": 4,
        "property_management": 1,
    }
    by_day = (await ok(await rates(api, group_by="day")))["groups"]
    assert [(g["group"], g["received"]) for g in by_day] == [("2026-03-02", 4), ("2026-03-03", 1)]
    only = (await ok(await rates(api, category="property_management")))["total"]
    assert (only["received"], only["satisfaction_rate"]) == (1, 0.0)


async def test_reports_with_no_case_are_empty_not_errors(api: Api) -> None:
    overdue = await ok(await api.as_user("sup", "GET", "/api/reports/overdue"))
    assert (overdue["overdue"], overdue["due_soon"], overdue["cases"]) == (0, 0, [])
    assert all(entries == [] for entries in overdue["by_level"].values())
    hotspots = await ok(await api.as_user("sup", "GET", "/api/reports/hotspots"))
    assert hotspots["rising"] == [] and hotspots["repeated_addresses"] == []
    body = await ok(await api.as_user("sup", "GET", "/api/reports/rates", params={"group_by": "worker"}))
    assert body["groups"] == [] and body["exclusions"] == []
    assert body["total"]["received"] == 0
    assert body["total"]["response_rate"] is None and body["total"]["composite_score"] is None
    assert body["weights"] == {"response_rate": 30, "resolution_rate": 35, "satisfaction_rate": 35}


async def test_rates_reject_bad_parameters_naming_the_field(api: Api) -> None:
    cases = {
        "group_by": {"group_by": "planet"},
        "to": {"from": "2026-03-02T00:00:00Z", "to": "2026-03-01T00:00:00Z"},
        "from": {"from": "yesterday"},
        "category": {"category": "no_such_thing"},
        "jurisdiction": {"jurisdiction": "ZZ9"},
        "format": {"format": "xlsx"},
    }
    for field, params in cases.items():
        response = await api.as_user("sup", "GET", "/api/reports/rates", params=params)
        assert response.status_code == 400, (field, response.text)
        assert field in response.json()["detail"], (field, response.text)


async def test_exclusion_needs_a_reason_is_audited_and_listed(api: Api, clock: FakeClock) -> None:
    ids = await world(api, clock)
    events = await ok(await api.as_user("sup", "GET", f"/api/cases/{ids['F']}/events"))
    excluded = [e for e in events if e["action"] == "exclude_from_reports"]
    assert len(excluded) == 1 and excluded[0]["actor"] == "sup"
    assert excluded[0]["fields"]["reason"] == "asks the community to evict a lawful tenant"
    assert (await ok(await api.as_user("admin", "GET", "/api/audit/verify")))["ok"] is True
    for report in ("rates", "overdue", "hotspots", "exclusions"):
        body = await ok(await api.as_user("sup", "GET", f"/api/reports/{report}", params=WINDOW))
        listed = body if report == "exclusions" else body["exclusions"]
        assert [x["case_id"] for x in listed] == [ids["F"]], report
        assert listed[0]["excluded_by"] == "sup" and listed[0]["reason"].startswith("asks")

    async def exclude(user: str, **body: Any) -> Any:
        return await api.as_user(user, "POST", "/api/reports/exclusions", json=body)

    no_reason = await exclude("sup", case_id=ids["A"])
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["detail"]
    blank = await exclude("sup", case_id=ids["A"], reason="   ")
    assert blank.status_code == 400 and "reason" in blank.json()["detail"]
    assert (await exclude("sup", case_id=ids["F"], reason="once more please")).status_code == 409
    assert (await exclude("w1", case_id=ids["A"], reason="my own bad case")).status_code == 403
    assert (await exclude("alice", case_id=ids["A"], reason="my own bad case")).status_code == 403
    assert (await exclude("sup2", case_id=ids["A"], reason="not in my street")).status_code == 404
    assert (await exclude("sup", case_id=ids["D"], reason="not in my street")).status_code == 404


async def test_overdue_now_and_soon_by_clock_and_level(api: Api, clock: FakeClock) -> None:
    ids = await world(api, clock)
    body = await ok(await api.as_user("admin", "GET", "/api/reports/overdue"))
    # G (never accepted), B (resolution, extended but still late), D (never contacted) are overdue;
    # F is late too but excluded; H is due within the next 4 hours
    assert (body["overdue"], body["due_soon"]) == (3, 1)
    assert body["by_clock"] == {
        "resolution": {"overdue": 1, "due_soon": 0},
        "response": {"overdue": 2, "due_soon": 1},
    }
    levels = {
        level: {e["code"]: (e["overdue"], e["due_soon"]) for e in entries}
        for level, entries in body["by_level"].items()
    }
    assert levels["district"] == {"D1": (3, 1)}
    assert levels["street"] == {"S1": (2, 1), "S2": (1, 0)}
    assert levels["community"] == {"C1": (2, 1), "C3": (1, 0)}
    assert [c["id"] for c in body["cases"]] == [ids["G"], ids["D"], ids["B"], ids["H"]]
    assert body["cases"][2]["clock"] == "resolution" and body["cases"][2]["overdue"] is True
    assert body["cases"][3]["overdue"] is False
    assert "13812345678" not in str(body) and body["cases"][0]["contact_phone"] == "138****5678"
    narrower = await ok(await api.as_user("admin", "GET", "/api/reports/overdue", params={"within_hours": 1}))
    assert (narrower["overdue"], narrower["due_soon"]) == (3, 0)


async def test_timeline_shows_each_clock_its_extension_and_outcome(api: Api, clock: FakeClock) -> None:
    ids = await world(api, clock)

    async def timeline(case: str) -> dict[str, dict[str, Any]]:
        body = await ok(await api.as_user("admin", "GET", f"/api/reports/timeline/{ids[case]}"))
        return {c["clock"]: c for c in body["clocks"]}

    a = await timeline("A")
    assert [a[name]["status"] for name in ("response", "resolution", "feedback")] == ["met"] * 3
    b = await timeline("B")
    assert b["response"]["status"] == "missed"
    assert datetime.fromisoformat(b["response"]["stopped_at"]) == T0 + timedelta(hours=30)
    resolution = b["resolution"]
    assert resolution["status"] == "overdue"  # reopened after the (extended) deadline
    assert datetime.fromisoformat(resolution["original_due_at"]) == T0 + timedelta(days=7, hours=1)
    assert datetime.fromisoformat(resolution["due_at"]) == T0 + timedelta(days=8, hours=1)
    [extension] = resolution["extensions"]
    assert extension["by"] == "sup" and extension["requested_by"] == "w2"
    assert extension["reason"] == "waiting for a plumber"
    assert datetime.fromisoformat(extension["at"]) == T0 + timedelta(hours=30)
    assert b["feedback"]["status"] == "met" and b["feedback"]["rounds"] == 1
    d = await timeline("D")
    assert (d["response"]["status"], d["feedback"]["status"]) == ("overdue", "not_started")
    e = await timeline("E")
    assert e["response"]["status"] == "cancelled"
    assert (await api.as_user("w1", "GET", f"/api/reports/timeline/{ids['B']}")).status_code == 404
    assert (await api.as_user("w2", "GET", f"/api/reports/timeline/{ids['B']}")).status_code == 200
    assert (await api.as_user("sup2", "GET", f"/api/reports/timeline/{ids['A']}")).status_code == 404


async def test_scope_supervisor_subtree_worker_own_figures_residents_refused(
    api: Api, clock: FakeClock
) -> None:
    await world(api, clock)
    assert (await ok(await rates(api, "sup")))["total"]["received"] == 4  # A B C E in S1
    assert (await ok(await rates(api, "sup2")))["total"]["received"] == 1  # D in S2
    assert (await ok(await rates(api, "disp")))["total"]["received"] == 5  # city-wide dispatcher
    assert (await ok(await rates(api, "sup", jurisdiction="C2")))["total"]["received"] == 1
    assert (await rates(api, "sup", jurisdiction="C3")).status_code == 404
    mine = await ok(await rates(api, "w1", group_by="jurisdiction"))
    assert mine["total"]["received"] == 1 and [g["group"] for g in mine["groups"]] == ["C1"]
    assert [x["case_id"] for x in mine["exclusions"]] == [
        (await ok(await rates(api, "sup")))["exclusions"][0]["case_id"]
    ]
    w2_overdue = await ok(await api.as_user("w2", "GET", "/api/reports/overdue"))
    assert w2_overdue["overdue"] == 1 and {c["assignee"] for c in w2_overdue["cases"]} == {"w2"}
    assert (await ok(await api.as_user("sup2", "GET", "/api/reports/overdue")))["overdue"] == 1
    for report in ("rates", "overdue", "hotspots", "exclusions", "timeline/1"):
        response = await api.as_user("alice", "GET", f"/api/reports/{report}")
        assert response.status_code == 403, report
    assert (await api.as_user(None, "GET", "/api/reports/rates")).status_code == 401


async def test_hotspots_rank_rising_clusters_and_repeated_addresses(api: Api, clock: FakeClock) -> None:
    clock.at(days=-5)
    await api.file()  # previous window: one noise complaint in C1
    clock.at(days=-3)
    await api.file(jurisdiction_code="C3", category="property_management")  # falls from 1 to 0
    for hours, address in (
        (1, "Building 3, Jixiang Lane"),
        (2, " building 3, jixiang lane"),
        (3, "Building 3, Jixiang Lane"),
    ):
        clock.at(hours=hours)
        await api.file(address=address)
    clock.at(hours=4)
    await api.file(jurisdiction_code="C2", category="property_management", address="Gate 1")
    clock.at(days=2)
    body = await ok(await api.as_user("admin", "GET", "/api/reports/hotspots", params={"window_days": 4}))
    assert [(r["jurisdiction"], r["category"], r["current"], r["previous"]) for r in body["rising"]] == [
        ("C1", "neighbour_noise", 3, 1),
        ("C2", "property_management", 1, 0),
    ]
    assert body["rising"][0]["growth"] == 2.0 and body["rising"][1]["growth"] is None
    [repeated] = body["repeated_addresses"]
    assert repeated["complaints"] == 3 and repeated["jurisdiction"] == "C1"
    assert repeated["address"].strip().lower() == "building 3, jixiang lane"
    scoped = await ok(await api.as_user("sup2", "GET", "/api/reports/hotspots", params={"window_days": 4}))
    assert scoped["rising"] == [] and scoped["repeated_addresses"] == []


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


async def test_every_report_exports_csv_with_masked_personal_data(api: Api, clock: FakeClock) -> None:
    ids = await world(api, clock)
    response = await api.as_user(
        "sup", "GET", "/api/reports/rates", params={**WINDOW, "group_by": "jurisdiction", "format": "csv"}
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = parse_csv(response.text)
    assert rows[0][:3] == ["group", "received", "response_counted"]
    assert [row[0] for row in rows[1:4]] == ["all", "C1", "C2"]
    assert ["# exclusions"] in rows and str(ids["F"]) in rows[rows.index(["# exclusions"]) + 2]
    by_accept = await api.as_user("sup", "GET", "/api/reports/overdue", headers={"Accept": "text/csv"})
    assert by_accept.headers["content-type"].startswith("text/csv")
    assert "138****5678" in by_accept.text and "13812345678" not in by_accept.text
    assert "Fang" not in by_accept.text
    for report in ("hotspots", f"timeline/{ids['B']}", "exclusions"):
        exported = await api.as_user("sup", "GET", f"/api/reports/{report}", params={"format": "csv"})
        assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv"), report
        assert parse_csv(exported.text)[0], report


def replay(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The report columns of a case rebuilt from its events alone, by the rules in README, Reports."""
    at = [datetime.fromisoformat(e["created_at"]) for e in events]
    state: dict[str, Any] = {"received_at": at[0], "responded_at": None, "resolved_at": None}
    state.update(closed_at=None, satisfaction=None, filer_resolved=None, reopen_count=0)
    for event, when in zip(events, at, strict=True):
        fields, action = event["fields"], event["action"]
        if action == "contact" and fields.get("first_contact"):
            state["responded_at"] = when
        if action == "resolve":
            state["resolved_at"] = when
        if action in ("send_back", "rate") and event["to_state"] == "mediation":
            state["resolved_at"] = None
        if action == "rate":
            state.update(satisfaction=fields["satisfaction"], filer_resolved=fields["resolved"])
            state["reopen_count"] += event["to_state"] == "mediation"
        if event["to_state"] == "closed":
            state["closed_at"] = when
    return state


async def test_every_case_column_the_rates_use_is_reproducible_from_its_events(
    api: Api, clock: FakeClock
) -> None:
    ids = await world(api, clock)
    for name, case_id in ids.items():
        case = await api.case("admin", case_id)
        events = await ok(await api.as_user("admin", "GET", f"/api/cases/{case_id}/events"))
        rebuilt = replay(events)
        for column, value in rebuilt.items():
            stored = case[column]
            if isinstance(value, datetime):
                stored = datetime.fromisoformat(stored)
            assert stored == value, (name, column)


GROUPINGS: tuple[GroupBy | None, ...] = (None, "jurisdiction", "worker", "category", "day")


async def copy_agrees_with_cases(
    api: Api, clock: FakeClock, scope: Scope, category: str | None = None
) -> None:
    """Every grouping: the report from the reports' copy (what the API answers) equals the report
    computed from scratch from the case table and its events."""
    weights = api.client.app.state.reports.settings.composite_weights  # type: ignore[attr-defined]
    start, end = T0 - timedelta(days=1), T0 + timedelta(days=1)
    for group_by in GROUPINGS:
        query = RatesQuery(start, end, scope, category, group_by)
        from_copy = await rates_report(query, weights, clock.now)
        from_cases = await rates_report(query, weights, clock.now, source="cases")
        assert from_copy == from_cases, (scope, category, group_by)


SCOPES = (
    Scope(),
    Scope(path="/D1/S1/"),
    Scope(path="/D1/S1/C2/"),
    Scope(assignee="w1"),
    Scope(assignee="w2"),
)


async def all_scopes_agree(api: Api, clock: FakeClock) -> None:
    for scope in SCOPES:
        await copy_agrees_with_cases(api, clock, scope)
    await copy_agrees_with_cases(api, clock, Scope(), category="property_management")


async def test_rates_from_the_reports_copy_equal_rates_from_the_cases_after_later_changes(
    api: Api, clock: FakeClock, settings: Settings
) -> None:
    ids = await world(api, clock)
    await all_scopes_agree(api, clock)  # the first report builds the copy
    assert await refresh_copy() == 0  # nothing happened since: nothing to catch up on
    before = (await ok(await rates(api)))["total"]

    # B is resolved again and a rating arrives after the copy was brought up to date: the latest counts
    clock.at(days=9, hours=3)
    await ok(await api.act("w2", ids["B"], "resolve", outcome="resolved", summary="pipe fixed again"))
    await ok(await api.act("sup", ids["B"], "approve"))
    await ok(await api.act("alice", ids["B"], "rate", resolved=True, satisfaction=5))
    clock.now = NOW
    after = (await ok(await rates(api)))["total"]
    assert (after["rated"], after["filer_resolved"], after["satisfied"]) == (3, 3, 2)
    assert after["resolution_hours_p90"] == 218.0  # B received at +1h, resolved again at +9d3h
    assert (before["received"], after["received"]) == (5, 5)
    await all_scopes_agree(api, clock)

    # an exclusion made after the copy was brought up to date applies at once
    excluded = await api.as_user(
        "sup2", "POST", "/api/reports/exclusions", json={"case_id": ids["D"], "reason": "demands a new road"}
    )
    assert excluded.status_code == 201, excluded.text
    assert (await ok(await rates(api)))["total"]["received"] == 4
    await all_scopes_agree(api, clock)

    # an event on the chain without a change of the case row (a returned order as the return feature
    # records it) is caught up too: the copy follows the chain, not the cases' update times
    await rawdb.execute(
        settings.database_url,
        "INSERT INTO jiesu_case_event (seq, case_id, actor, actor_role, action, from_state, to_state,"
        f" fields, created_at, prev_hash, hash) VALUES (999999, {ids['A']}, 'w1', 'worker', 'return_order',"
        " 'mediation', 'triage', '{}', '2026-03-03T02:00:00.000000+00:00', '', '')",
    )
    assert (await ok(await rates(api)))["total"]["returned"] == 1
    await all_scopes_agree(api, clock)
