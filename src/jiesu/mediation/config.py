"""The mediation clocks, from workflows/mediation.yaml."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from jiesu.workflow.spec import WorkflowError, parse_duration


class MediationClocks(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clock: timedelta = timedelta(days=30)
    extension_max: timedelta = timedelta(days=30)
    judicial_confirmation: timedelta = timedelta(days=30)
    session_reminder: timedelta = timedelta(hours=24)

    @field_validator("*", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return value if isinstance(value, timedelta) else parse_duration(value)


def load_clocks(path: Path) -> MediationClocks:
    """The file is optional: without it the statutory defaults apply."""
    if not path.exists():
        return MediationClocks()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise WorkflowError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return MediationClocks.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or '(top)'}: {e['msg']}" for e in exc.errors()]
        raise WorkflowError(f"{path}: " + "; ".join(problems)) from exc
