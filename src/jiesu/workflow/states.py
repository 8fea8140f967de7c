"""The case states by the part each plays, read from workflows/case.yaml.

The code names states through ``STATES`` (or ``Workflow.states``), never as literals: a state the code
relies on that the YAML renames or drops fails when the workflow loads, not in a query that finds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from pathlib import Path

from jiesu.config import PROJECT_ROOT
from jiesu.workflow.spec import WorkflowError, WorkflowSpec, load_spec

SHIPPED_CASE_WORKFLOW = PROJECT_ROOT / "workflows" / "case.yaml"
CLAIM_ACTION = "claim"
QUEUE_GROUPS = ("worker_queue", "dispatcher_queue")


@dataclass(frozen=True)
class CaseStates:
    # The states the code gives a meaning of its own: each field is the name of a state in the YAML.
    intake: str
    triage: str
    mediation: str
    resolution: str
    feedback: str
    closed: str
    # Derived from the YAML.
    initial: str
    final: tuple[str, ...]  # ``final``: a case there is closed
    open: tuple[str, ...]  # every state that is not final
    claimable: tuple[str, ...]  # where a worker may claim an unassigned case: the sources of ``claim``
    # Declared in the YAML's ``groups``.
    worker_queue: tuple[str, ...]  # a worker's own cases, waiting on the worker
    dispatcher_queue: tuple[str, ...]  # waiting on a dispatcher or supervisor

    @classmethod
    def of(cls, spec: WorkflowSpec) -> CaseStates:
        missing = [name for name in NAMED_STATES if name not in spec.states]
        if missing:
            raise WorkflowError(f"the case workflow has no state(s) {missing}, which the code names")
        closed = "closed"
        if closed not in spec.final:
            raise WorkflowError(f"the case workflow must list {closed!r} in final")
        absent = [group for group in QUEUE_GROUPS if group not in spec.groups]
        if absent:
            raise WorkflowError(f"the case workflow declares no state group(s) {absent}")
        claim = spec.actions.get(CLAIM_ACTION)
        return cls(
            **{name: name for name in NAMED_STATES},
            initial=spec.initial,
            final=tuple(spec.final),
            open=tuple(state for state in spec.states if state not in spec.final),
            claimable=tuple(s for t in claim.transitions for s in t.source) if claim else (),
            worker_queue=tuple(spec.groups["worker_queue"]),
            dispatcher_queue=tuple(spec.groups["dispatcher_queue"]),
        )

    def is_open(self, state: str) -> bool:
        return state not in self.final


NAMED_STATES = tuple(field.name for field in fields(CaseStates)[:6])


def sql_list(states: Iterable[str]) -> str:
    """``'a', 'b'`` for an SQL ``IN (…)``: safe, as the spec allows only lower_snake_case state names."""
    return ", ".join(f"'{state}'" for state in states)


def load_case_states(path: Path = SHIPPED_CASE_WORKFLOW) -> CaseStates:
    return CaseStates.of(load_spec(path))


# For code that has no Workflow at hand; CaseService checks the app's workflow gives the same.
STATES = load_case_states()
