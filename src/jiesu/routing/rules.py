"""Routing rules: workflows/routing.yaml, then the admin's versions in the database; pydantic-validated."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from jiesu.routing.catalogue import Catalogue
from jiesu.workflow.spec import WorkflowError

Level = Literal["community", "street", "district"]
Name = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]
CodeStr = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_\-]{1,32}$")]
WILDCARD = "*"


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Name
    categories: list[Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)]] = Field(
        min_length=1, max_length=100
    )
    jurisdictions: list[CodeStr] = Field(default_factory=list, max_length=200)
    level: Level
    skills: list[Name] | None = None
    assist: list[Name] = Field(default_factory=list, max_length=20)


Priority = Literal["normal", "urgent"]
DEFAULT_WEIGHTS: dict[Priority, int] = {"normal": 1, "urgent": 2}


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    backstop_level: Literal["street", "district"] = "street"
    priority_weights: dict[Priority, Annotated[int, Field(ge=1, le=100)]] = Field(
        default_factory=lambda: dict(DEFAULT_WEIGHTS)
    )
    rules: list[Rule] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        seen: set[str] = set()
        for index, rule in enumerate(self.rules):
            if rule.id in seen:
                raise ValueError(f"rules.{index}.id: {rule.id!r} is used twice")
            seen.add(rule.id)
        return self

    def weight(self, priority: str) -> int:
        return next((weight for name, weight in self.priority_weights.items() if name == priority), 1)


def unknown_categories(rules: RuleSet, catalogue: Catalogue) -> list[tuple[str, str]]:
    """(field, message) for every category a rule names that the catalogue does not know."""
    problems = []
    for index, rule in enumerate(rules.rules):
        for position, code in enumerate(rule.categories):
            if code != WILDCARD and catalogue.get(code) is None:
                problems.append((f"rules.{index}.categories.{position}", f"unknown category {code!r}"))
    return problems


def load_rules(path: Path, catalogue: Catalogue) -> RuleSet:
    try:
        rules = RuleSet.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise WorkflowError(f"{path}: invalid routing rules: {exc}") from exc
    problems = unknown_categories(rules, catalogue)
    if problems:
        raise WorkflowError(f"{path}: {problems[0][0]}: {problems[0][1]}")
    return rules
