"""ONE shared transitions Machine per workflow; conditions are checked on a small holder, never a row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    create_model,
)
from transitions import Machine
from transitions.core import Condition

from jiesu.workflow.spec import FieldSpec, WorkflowSpec
from jiesu.workflow.states import CaseStates


class IllegalTransition(Exception):
    """The action cannot be fired from the case's current state."""


@dataclass(eq=False)
class CaseHolder:
    """What the machine sees of a case during one request: its state and the request's fields."""

    state: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    reopen_count: int = 0
    max_reopens: int = 0

    def is_satisfied(self) -> bool:
        """Satisfied means the filer says it is resolved and rates it 3 (acceptable) or better."""
        return bool(self.payload.get("resolved")) and int(self.payload.get("satisfaction", 0)) >= 3

    def may_reopen(self) -> bool:
        return self.reopen_count < self.max_reopens


def condition_holds(holder: CaseHolder, condition: Condition) -> bool:
    """A workflow condition names a method of CaseHolder (workflows/*.yaml hold names, not callables)."""
    check = getattr(holder, condition.func) if isinstance(condition.func, str) else condition.func
    return bool(check() == condition.target)


def _field_type(spec: FieldSpec) -> Any:
    text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    match spec.type:
        case "text":
            return Annotated[text, StringConstraints(max_length=spec.max_length)]
        case "username" | "jurisdiction":
            return Annotated[text, StringConstraints(max_length=64)]
        case "choice":
            return Literal[tuple(spec.choices or ())]
        case "int":
            return Annotated[int, Field(ge=spec.min, le=spec.max, strict=True)]
        case "bool":
            return StrictBool
        case "datetime":
            return AwareDatetime
        case "case":
            return Annotated[int, Field(ge=1, le=2**31 - 1, strict=True)]
    raise ValueError(spec.type)


class ActionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Annotated[int, Field(ge=1, strict=True)]


def _body_model(action: str, fields: Mapping[str, FieldSpec]) -> type[ActionBody]:
    definitions: dict[str, Any] = {}
    for name, spec in fields.items():
        kind = _field_type(spec)
        definitions[name] = (kind, ...) if spec.required else (kind | None, None)
    name = "".join(part.title() for part in action.split("_")) + "Body"
    return create_model(name, __base__=ActionBody, **definitions)


@dataclass
class Workflow:
    spec: WorkflowSpec
    machine: Machine
    bodies: dict[str, type[ActionBody]]
    states: CaseStates
    _actions_from: dict[str, list[str]] = field(default_factory=dict)  # the machine never changes

    @classmethod
    def build(cls, spec: WorkflowSpec) -> Workflow:
        machine = Machine(
            model=None,
            states=spec.states,
            transitions=cls.machine_transitions(spec),
            initial=spec.initial,
            auto_transitions=False,
            ignore_invalid_triggers=False,
        )
        bodies = {name: _body_model(name, a.fields) for name, a in spec.actions.items()}
        return cls(spec=spec, machine=machine, bodies=bodies, states=CaseStates.of(spec))

    @staticmethod
    def machine_transitions(spec: WorkflowSpec) -> list[dict[str, Any]]:
        return [
            {
                "trigger": action,
                "source": transition.source,
                "dest": transition.dest,
                "conditions": list(transition.conditions),
            }
            for action, action_spec in spec.actions.items()
            for transition in action_spec.transitions
        ]

    def actions_from(self, state: str) -> list[str]:
        if state not in self._actions_from:
            self._actions_from[state] = sorted(self.machine.get_triggers(state))
        return list(self._actions_from[state])

    def roles(self, action: str) -> list[str]:
        return self.spec.actions[action].roles

    def fire(self, state: str, action: str, payload: Mapping[str, Any], reopen_count: int = 0) -> str:
        """The state after ``action``; raises IllegalTransition when it cannot fire from ``state``.

        The transition is resolved from the shared machine's table (``get_transitions``) and its
        conditions are checked on a holder, without attaching the holder: ``add_model`` costs more
        than a whole intake otherwise (PITFALLS.md).
        """
        candidates = (
            self.machine.get_transitions(trigger=action, source=state)
            if action in self.machine.events
            else []
        )
        if not candidates:
            raise IllegalTransition(f"{action} is not allowed in state {state}")
        holder = CaseHolder(state, payload, reopen_count, self.spec.max_reopens)
        for transition in candidates:
            if all(condition_holds(holder, c) for c in transition.conditions):
                return transition.dest or state
        raise IllegalTransition(f"{action} is not possible now")

    def mermaid(self) -> str:
        """A Mermaid state diagram, drawn by transitions' GraphMachine (for scripts, not requests)."""
        from transitions.extensions import GraphMachine

        graph = GraphMachine(
            model=None,
            states=self.spec.states,
            transitions=self.machine_transitions(self.spec),
            initial=self.spec.initial,
            auto_transitions=False,
            graph_engine="mermaid",
            show_conditions=True,
        )
        graph.add_model(CaseHolder(self.spec.initial))
        return str(graph.get_combined_graph().draw(None))
