"""The category catalogue of workflows/categories.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from jiesu.workflow.spec import WorkflowError


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    name: str
    name_zh: str
    description: str
    default_priority: Literal["normal", "urgent"] = "normal"
    handling_level: Literal["community", "street", "district"] = "community"
    dispute: bool = False
    complexity: Literal["ordinary", "complex"] = "ordinary"
    skills: list[str] = []


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: list[Category] = Field(min_length=1)

    def get(self, code: str | None) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)


def load_catalogue(path: Path) -> Catalogue:
    try:
        return Catalogue.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (yaml.YAMLError, ValidationError) as exc:
        raise WorkflowError(f"{path}: invalid category catalogue: {exc}") from exc
