"""The schema of a workflow file, validated with pydantic; errors name the line and the field."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

STAFF_ROLES = ("resident", "worker", "dispatcher", "supervisor", "admin")
RELATION_ROLES = ("filer", "assignee", "system")
CONDITIONS = ("is_satisfied", "may_reopen")
FIELD_TYPES = ("text", "choice", "int", "bool", "datetime", "username", "jurisdiction", "case")
PRIORITIES = ("normal", "urgent")

_DURATION = re.compile(r"^(\d+)\s*([mhd])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(str(text).strip())
    if not match:
        raise ValueError(f"not a duration like 30m, 2h or 7d: {text!r}")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


Duration = Annotated[timedelta, Field()]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FieldSpec(_Strict):
    type: Literal["text", "choice", "int", "bool", "datetime", "username", "jurisdiction", "case"]
    required: bool = True
    choices: list[str] | None = None
    min: int | None = None
    max: int | None = None
    max_length: int = 2000
    # A text field holds words by or about people unless it says otherwise (a code, such as a category):
    # those words are sealed in the audit chain, so that erasure can reach them.
    personal: bool = True

    @property
    def is_free_text(self) -> bool:
        return self.type == "text" and self.personal

    @model_validator(mode="after")
    def _choices_for_choice(self) -> FieldSpec:
        if self.type == "choice" and not self.choices:
            raise ValueError("a field of type choice needs choices")
        return self


class TransitionSpec(_Strict):
    source: list[str]
    dest: str
    conditions: list[Literal["is_satisfied", "may_reopen"]] = []

    @field_validator("source", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class ActionSpec(_Strict):
    roles: list[str] = Field(min_length=1)
    fields: dict[str, FieldSpec] = {}
    transitions: list[TransitionSpec] = Field(min_length=1)

    @field_validator("roles")
    @classmethod
    def _known_roles(cls, roles: list[str]) -> list[str]:
        unknown = [r for r in roles if r not in STAFF_ROLES + RELATION_ROLES]
        if unknown:
            raise ValueError(f"unknown role(s) {unknown}; allowed: {STAFF_ROLES + RELATION_ROLES}")
        return roles


def _durations(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: parse_duration(item) for key, item in value.items()}
    return parse_duration(value)


class ClocksSpec(_Strict):
    response: dict[Literal["normal", "urgent"], timedelta]
    resolution: dict[Literal["normal", "urgent", "complex"], timedelta]
    feedback: timedelta
    extension_max: timedelta = timedelta(days=15)

    @field_validator("response", "resolution", "feedback", "extension_max", mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        return _durations(value)

    @model_validator(mode="after")
    def _every_priority(self) -> ClocksSpec:
        for clock in ("response", "resolution"):
            missing = [p for p in PRIORITIES if p not in getattr(self, clock)]
            if missing:
                raise ValueError(f"clock {clock} has no duration for {missing}")
        return self


class WorkflowSpec(_Strict):
    kind: str
    initial: str
    final: list[str] = []
    # Named groups of states the code refers to (the queues), so no state is spelled in the code.
    groups: dict[str, list[str]] = {}
    max_reopens: int = Field(default=2, ge=0)
    states: list[str] = Field(min_length=2)
    clocks: ClocksSpec
    actions: dict[str, ActionSpec]

    @model_validator(mode="after")
    def _states_exist(self) -> WorkflowSpec:
        known = set(self.states)
        for state in self.states:
            if not re.fullmatch(r"[a-z][a-z_]*", state):
                raise ValueError(f"state name {state!r} must be lower_snake_case")
        if self.initial not in known:
            raise ValueError(f"initial state {self.initial!r} is not in states")
        for state in self.final:
            if state not in known:
                raise ValueError(f"final state {state!r} is not in states")
        for group, members in self.groups.items():
            for state in members:
                if state not in known:
                    raise ValueError(f"group {group!r} names unknown state {state!r}")
        for name, action in self.actions.items():
            if not re.fullmatch(r"[a-z][a-z_]*", name):
                raise ValueError(f"action name {name!r} must be lower_snake_case")
            for transition in action.transitions:
                for state in [*transition.source, transition.dest]:
                    if state not in known:
                        raise ValueError(f"action {name!r} names unknown state {state!r}")
        return self

    def free_text_fields(self) -> dict[str, frozenset[str]]:
        """action → the fields it declares as free text (``type: text``, not ``personal: false``)."""
        return {
            name: frozenset(field for field, spec in action.fields.items() if spec.is_free_text)
            for name, action in self.actions.items()
        }


class WorkflowError(Exception):
    """A workflow file that cannot be used; the message names the file, line and field."""


def _line_of(node: yaml.Node, loc: tuple[Any, ...]) -> int:
    """The 1-based line of the YAML node at a pydantic error location (as deep as it exists)."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            child = node.value[key]
        else:
            child = None
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


def load_spec(path: Path) -> WorkflowSpec:
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise WorkflowError(f"{path}: not valid YAML: {exc}") from exc
    if node is None or not isinstance(data, dict):
        raise WorkflowError(f"{path}: expected a mapping at the top")
    try:
        return WorkflowSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            field = ".".join(str(part) for part in loc) or "(top)"
            problems.append(f"{path}:{_line_of(node, loc)}: {field}: {error['msg']}")
        raise WorkflowError("invalid workflow:\n  " + "\n  ".join(problems)) from exc


def load_workflow(path: Path):  # type: ignore[no-untyped-def]
    from jiesu.workflow.machine import Workflow

    return Workflow.build(load_spec(path))
