"""The report settings in workflows/reports.yaml: composite weights and report defaults."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jiesu.workflow.spec import parse_duration

RATES = ("response_rate", "resolution_rate", "satisfaction_rate")
Positive = Annotated[int, Field(ge=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CompositeWeights(_Strict):
    response_rate: Annotated[float, Field(ge=0)] = 30
    resolution_rate: Annotated[float, Field(ge=0)] = 35
    satisfaction_rate: Annotated[float, Field(ge=0)] = 35

    @model_validator(mode="after")
    def _sum_to_100(self) -> CompositeWeights:
        total = self.response_rate + self.resolution_rate + self.satisfaction_rate
        if abs(total - 100) > 1e-9:
            raise ValueError(f"the weights must add up to 100, not {total:g}")
        return self


class HotspotSettings(_Strict):
    window_days: Annotated[int, Field(ge=1, le=366)] = 7
    top: Annotated[int, Field(ge=1, le=500)] = 10
    repeat_min: Annotated[int, Field(ge=2)] = 3


class ReportSettings(_Strict):
    composite_weights: CompositeWeights = CompositeWeights()
    default_window_days: Annotated[int, Field(ge=1, le=3660)] = 30
    overdue_soon: timedelta = timedelta(hours=4)
    overdue_list_limit: Annotated[int, Field(ge=1, le=10000)] = 100
    hotspots: HotspotSettings = HotspotSettings()

    @field_validator("overdue_soon", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value


class ReportSettingsError(ValueError):
    pass


def load_report_settings(path: Path) -> ReportSettings:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return ReportSettings.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise ReportSettingsError(f"{path.name}: {exc}") from exc
