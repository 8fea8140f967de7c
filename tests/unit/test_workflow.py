"""The workflow file: validated at start with messages that name the line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from jiesu.config import PROJECT_ROOT
from jiesu.workflow import STATES, IllegalTransition, WorkflowError, load_workflow

CASE_YAML = PROJECT_ROOT / "workflows" / "case.yaml"


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    text = CASE_YAML.read_text()
    assert old in text
    path = tmp_path / "case.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_the_shipped_workflow_loads_into_one_machine() -> None:
    workflow = load_workflow(CASE_YAML)
    assert workflow.spec.states == ["intake", "triage", "mediation", "resolution", "feedback", "closed"]
    assert workflow.machine.auto_transitions is False
    assert workflow.actions_from("intake") == [
        "accept",
        "add_info",
        "merge",
        "reject",
        "sla_escalate",
        "withdraw",
    ]
    assert workflow.machine.models == []


def test_an_unknown_destination_state_is_refused_with_its_name(tmp_path: Path) -> None:
    path = _broken(tmp_path, "- {source: triage, dest: mediation}", "- {source: triage, dest: mediaton}")
    with pytest.raises(WorkflowError, match="unknown state 'mediaton'"):
        load_workflow(path)


def test_an_unknown_role_is_refused_naming_the_line_and_field(tmp_path: Path) -> None:
    path = _broken(tmp_path, "roles: [dispatcher, supervisor, system]", "roles: [dispatcher, janitor]")
    with pytest.raises(WorkflowError) as error:
        load_workflow(path)
    message = str(error.value)
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if "janitor" in text)
    assert f"case.yaml:{line}: actions.accept.roles" in message
    assert "janitor" in message


def test_a_bad_clock_is_refused(tmp_path: Path) -> None:
    path = _broken(tmp_path, "response: {urgent: 2h, normal: 24h}", "response: {urgent: soon, normal: 24h}")
    with pytest.raises(WorkflowError, match=r"clocks\.response.*not a duration"):
        load_workflow(path)


def test_invalid_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "case.yaml"
    path.write_text("states: [intake,\n")
    with pytest.raises(WorkflowError, match="not valid YAML"):
        load_workflow(path)


def test_the_cli_refuses_to_start_on_a_broken_workflow(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from jiesu.cli import main

    broken = _broken(tmp_path, "initial: intake", "initial: nowhere")
    (tmp_path / "categories.yaml").write_text((PROJECT_ROOT / "workflows" / "categories.yaml").read_text())
    assert broken.parent == tmp_path
    monkeypatch.setenv("JIESU_WORKFLOWS_DIR", str(tmp_path))
    assert main(["workflow", "diagram"]) == 2


def test_rating_closes_or_reopens_by_the_answer() -> None:
    workflow = load_workflow(CASE_YAML)
    assert workflow.fire("feedback", "rate", {"resolved": True, "satisfaction": 4}) == "closed"
    assert workflow.fire("feedback", "rate", {"resolved": False, "satisfaction": 4}) == "mediation"
    assert workflow.fire("feedback", "rate", {"resolved": True, "satisfaction": 2}) == "mediation"
    exhausted = workflow.fire("feedback", "rate", {"resolved": False, "satisfaction": 1}, reopen_count=2)
    assert exhausted == "closed"
    with pytest.raises(IllegalTransition):
        workflow.fire("closed", "rate", {"resolved": True, "satisfaction": 5})
    assert workflow.machine.models == []


def test_the_diagram_is_mermaid() -> None:
    diagram = load_workflow(CASE_YAML).mermaid()
    assert "stateDiagram-v2" in diagram
    assert "triage --> mediation: dispatch | claim" in diagram


def test_the_state_groups_come_from_the_workflow() -> None:
    states = load_workflow(CASE_YAML).states
    assert states == STATES
    assert states.final == ("closed",) and states.closed in states.final
    assert states.open == ("intake", "triage", "mediation", "resolution", "feedback")
    assert states.claimable == ("triage",)
    assert states.worker_queue == ("mediation", "resolution")
    assert states.dispatcher_queue == ("intake", "triage", "resolution")


@pytest.mark.parametrize(
    ("shipped", "broken", "refusal"),
    [
        pytest.param(
            "worker_queue: [mediation, resolution]",
            "worker_queue: [mediaton, resolution]",
            "group 'worker_queue' names unknown state 'mediaton'",
            id="a group naming an unknown state",
        ),
        pytest.param("  dispatcher_queue:", "  desk:", "no state group", id="a missing queue group"),
        pytest.param(
            "final: [closed]", "final: [feedback]", "'closed' in final", id="a state the code names"
        ),
    ],
)
def test_broken_state_groups_are_refused_with_what_is_wrong(
    tmp_path: Path, shipped: str, broken: str, refusal: str
) -> None:
    with pytest.raises(WorkflowError, match=refusal):
        load_workflow(_broken(tmp_path, shipped, broken))
