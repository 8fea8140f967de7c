"""A model test of the workflow through HTTP: random actions by random callers on a few cases.

Hypothesis drives a RuleBasedStateMachine; after every step the invariants hold: each case is in a state
the workflow has and got there by a transition the workflow allows, a refused action changed nothing, the
number of events equals the number of accepted changes, the audit chain verifies, and no case is in more
than one worker's hands (one assignee, in exactly the queue of that worker).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from litestar.testing import TestClient

from jiesu.app import create_app
from jiesu.config import PROJECT_ROOT, Settings
from jiesu.workflow import Workflow, load_workflow
from tests.conftest import PASSWORD
from tests.reliability.fuzzing import CASE_BODY, build_world

WORKERS = ("w1", "w2", "w3", "streetw")
CALLERS = ("alice", "bob", "disp", "disp2", "sup", "sup2", "admin", "filer", *WORKERS)
STAFF_VIEW = "admin"  # sees every case, may fire nothing, so reading through it changes nothing
ASSIGNED_STATES = {"mediation", "resolution", "feedback"}
# The actions that move a case on towards closing by its normal path.
FORWARD = {
    "accept",
    "dispatch",
    "claim",
    "contact",
    "resolve",
    "approve",
    "rate",
    "send_back",
    "extend",
    "request_extension",
    "approve_extension",
    "deny_extension",
}
ACTIONS = sorted(load_workflow(PROJECT_ROOT / "workflows" / "case.yaml").spec.actions)


def _body(action: str, case: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    """A body for ``action``: mostly sensible values, so the walk gets deep into the workflow."""
    pick = data.draw
    text = pick(st.sampled_from(["Called the parties", "x", "再次联系", "a" * 300]))
    match action:
        case "accept":
            return {"category": pick(st.sampled_from(["neighbour_noise", None])), "jurisdiction_code": "C1"}
        case "dispatch":
            return {"assignee": pick(st.sampled_from([*WORKERS, "alice"]))}
        case "reassign":
            return {"assignee": pick(st.sampled_from(WORKERS)), "reason": text}
        case "contact":
            return {"note": text}
        case "escalate":
            return {"level": pick(st.sampled_from(["street", "district"])), "reason": text}
        case "extend" | "request_extension":
            due = datetime.fromisoformat(case["deadlines"]["resolution_due"])
            return {"until": (due + timedelta(days=pick(st.integers(-1, 20)))).isoformat(), "reason": text}
        case "resolve":
            return {"outcome": pick(st.sampled_from(["agreement", "resolved", "referred"])), "summary": text}
        case "rate":
            return {"resolved": pick(st.booleans()), "satisfaction": pick(st.integers(1, 5))}
        case "transfer":
            return {"jurisdiction_code": pick(st.sampled_from(["C1", "C2", "C3", "G1"])), "reason": text}
        case "merge":
            return {"into": pick(st.integers(1, 40))}
        case "send_back" | "reject" | "withdraw" | "deny_extension":
            return {"reason": text}
    return {}


class WorkflowModel(RuleBasedStateMachine):
    client: TestClient
    headers: dict[str, dict[str, str]]
    workflow: Workflow
    events_before: int = 0
    accepted: dict[str, int] = {}

    cases = Bundle("cases")

    def __init__(self) -> None:
        super().__init__()
        self.expected_events: dict[int, int] = {}
        self.filer_headers: dict[int, dict[str, str]] = {}

    # ---- helpers ------------------------------------------------------------------------------

    def _get(self, case_id: int) -> dict[str, Any]:
        response = self.client.get(f"/api/cases/{case_id}", headers=self.headers[STAFF_VIEW])
        assert response.status_code == 200, response.text
        return response.json()

    def _events(self, case_id: int) -> list[dict[str, Any]]:
        response = self.client.get(f"/api/cases/{case_id}/events", headers=self.headers[STAFF_VIEW])
        assert response.status_code == 200, response.text
        return response.json()

    def _caller_headers(self, caller: str, case_id: int) -> dict[str, str]:
        if caller == "filer":
            return self.filer_headers.get(case_id, {})
        return self.headers[caller]

    # ---- rules --------------------------------------------------------------------------------

    @initialize()
    def count_earlier_events(self) -> None:
        """Events of the world and of earlier runs: every run adds to the same database."""
        report = self.client.get("/api/audit/verify", headers=self.headers["sup"]).json()
        WorkflowModel.events_before = report["checked"]

    @precondition(lambda self: len(self.expected_events) < 3)
    @rule(
        target=cases,
        filer=st.sampled_from(["alice", "bob", "anonymous", "disp"]),
        routed=st.booleans(),
    )
    def file(self, filer: str, routed: bool) -> int:
        body = dict(CASE_BODY) if routed else {**CASE_BODY, "jurisdiction_code": None}
        body = {k: v for k, v in body.items() if v is not None}
        headers = {} if filer == "anonymous" else self.headers[filer]
        response = self.client.post("/api/cases", json=body, headers=headers)
        assert response.status_code == 201, response.text
        filed = response.json()
        case_id = filed["id"]
        if filed["access_code"]:
            tracked = self.client.post(
                "/api/track",
                json={"tracking_no": filed["tracking_no"], "access_code": filed["access_code"]},
            )
            self.filer_headers[case_id] = {"Authorization": f"Bearer {tracked.json()['access_token']}"}
        elif filer in ("alice", "bob"):
            self.filer_headers[case_id] = self.headers[filer]
        events = self._events(case_id)
        assert events[0]["action"] == "file" and events[0]["from_state"] is None
        # Filing is one event; routing at intake may add its own (accept, dispatch), each a change.
        assert len(events) == filed["version"], (events, filed["version"])
        self.expected_events[case_id] = len(events)
        return case_id

    @rule(case_id=cases, anyone=st.integers(0, 3), stale=st.integers(0, 9), data=st.data())
    def act(self, case_id: int, anyone: int, stale: int, data: st.DataObject) -> None:
        """Mostly a caller involved in the case and an action it may take now (so the walk goes deep);
        sometimes anyone, any action, or a stale version."""
        before = self._get(case_id)
        involved = ["disp", "sup", before["assignee"] or "w1"]
        if before["state"] == "feedback":
            involved = ["filer"]
        caller = data.draw(st.sampled_from(CALLERS if anyone == 0 else involved))
        headers = self._caller_headers(caller, case_id)
        seen = self.client.get(f"/api/cases/{case_id}", headers=headers)
        offered = seen.json()["allowed_actions"] if seen.status_code == 200 else []
        forward = [action for action in offered if action in FORWARD]
        tier = data.draw(st.integers(0, 4))
        pool = (forward if tier > 1 else offered) if tier and offered else ACTIONS
        pool = pool or offered or ACTIONS
        action = data.draw(st.sampled_from(pool))
        body = {"version": before["version"] - (1 if stale == 0 else 0), **_body(action, before, data)}
        body = {k: v for k, v in body.items() if v is not None}
        response = self.client.post(f"/api/cases/{case_id}/actions/{action}", json=body, headers=headers)
        after = self._get(case_id)
        if response.status_code == 200:
            assert after["version"] == before["version"] + 1
            assert (before["state"], after["state"]) in self.allowed_moves(action), (action, before, after)
            self.expected_events[case_id] += 1
            WorkflowModel.accepted[action] = WorkflowModel.accepted.get(action, 0) + 1
            event = self._events(case_id)[-1]
            assert (event["action"], event["from_state"], event["to_state"]) == (
                action,
                before["state"],
                after["state"],
            )
        else:
            assert response.status_code in (400, 401, 403, 404, 409), response.text
            before.pop("allowed_actions"), after.pop("allowed_actions")
            assert after == before, f"{action} by {caller}: {response.status_code}, yet the case changed"

    def allowed_moves(self, action: str) -> set[tuple[str, str]]:
        spec = self.workflow.spec.actions[action]
        return {(source, t.dest) for t in spec.transitions for source in t.source}

    # ---- invariants ---------------------------------------------------------------------------

    @invariant()
    def every_case_is_consistent(self) -> None:
        states = set(self.workflow.spec.states)
        listed = self.client.get("/api/cases?limit=100", headers=self.headers[STAFF_VIEW]).json()["items"]
        by_id = {case["id"]: case for case in listed}
        queues = {
            worker: {c["id"] for c in self.client.get("/api/queue", headers=self.headers[worker]).json()}
            for worker in WORKERS
        }
        for case_id, expected in self.expected_events.items():
            case = by_id[case_id]
            assert case["state"] in states
            assert case["version"] == expected, case
            holders = [worker for worker, queue in queues.items() if case_id in queue]
            assert len(holders) <= 1, (case_id, holders)
            if case["state"] in ("mediation", "resolution"):
                assert holders == [case["assignee"]], (case, holders)
            if case["state"] in ("intake", "triage"):
                assert case["assignee"] is None and not holders, case
            if case["state"] in ASSIGNED_STATES:
                assert case["assignee"] in WORKERS, case

    @invariant()
    def the_audit_chain_verifies_and_counts_every_accepted_change(self) -> None:
        report = self.client.get("/api/audit/verify", headers=self.headers["sup"]).json()
        assert report["ok"] is True, report
        assert report["checked"] == WorkflowModel.events_before + sum(self.expected_events.values())


def test_random_actions_by_random_callers_keep_the_workflow_invariants(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        world = build_world(client, ACTIONS)
        WorkflowModel.client = client
        WorkflowModel.headers = {**world.headers}
        WorkflowModel.headers["bob"] = _token(client, "bob")
        WorkflowModel.headers["disp2"] = _token(client, "disp2")
        WorkflowModel.headers["sup2"] = _token(client, "sup2")
        for worker in WORKERS:
            WorkflowModel.headers[worker] = _token(client, worker)
        WorkflowModel.workflow = client.app.state.workflow
        WorkflowModel.accepted = {}
        run_state_machine_as_test(WorkflowModel, settings=_model_settings(5 if settings.is_sqlite else 3))
    # The walk went deep: many kinds of change were accepted, not only refusals.
    assert len(WorkflowModel.accepted) >= 6, WorkflowModel.accepted


def _model_settings(examples: int) -> Any:
    return settings(
        max_examples=examples,
        stateful_step_count=30,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )


def _token(client: TestClient, username: str) -> dict[str, str]:
    response = client.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
