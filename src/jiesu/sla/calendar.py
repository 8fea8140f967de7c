"""The SLA settings of workflows/sla.yaml and the business calendar (working days and holidays)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from jiesu.workflow.spec import WorkflowError, parse_duration

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ClockName = Literal["response", "resolution", "feedback"]


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MONDAY_TO_FRIDAY: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri")


class BusinessCalendar(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = "Asia/Shanghai"
    clocks: list[ClockName] = []
    workdays: list[Weekday] = Field(default_factory=lambda: list(MONDAY_TO_FRIDAY), min_length=1)
    holidays: list[date] = []
    extra_workdays: list[date] = []

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    def is_working_day(self, day: date) -> bool:
        if day in self.extra_workdays:
            return True
        return day not in self.holidays and WEEKDAYS[day.weekday()] in self.workdays

    def add(self, clock: str, start: datetime, duration: timedelta) -> datetime:
        """``start + duration``, where for a calendar clock only time on working days counts."""
        if clock not in self.clocks:
            return start + duration
        zone = ZoneInfo(self.timezone)
        moment = start.astimezone(zone)
        remaining = duration
        for _ in range(3660):  # ten years of days: a calendar with no working day cannot loop forever
            midnight = datetime.combine(moment.date() + timedelta(days=1), time(0), tzinfo=zone)
            if self.is_working_day(moment.date()):
                left_today = midnight.astimezone(UTC) - moment.astimezone(UTC)
                if remaining <= left_today:
                    return (moment.astimezone(UTC) + remaining).astimezone(start.tzinfo)
                remaining -= left_today
            moment = midnight
        raise WorkflowError("the business calendar has no working day within ten years")


class SlaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reminder_at: float = Field(default=0.8, gt=0, lt=1)
    escalate_again_after: timedelta = timedelta(hours=24)
    calendar: BusinessCalendar = BusinessCalendar()

    @field_validator("escalate_again_after", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        return parse_duration(value) if isinstance(value, str) else value


def load_sla_config(path: Path) -> SlaConfig:
    if not path.exists():
        return SlaConfig()
    try:
        return SlaConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except (yaml.YAMLError, ValidationError) as exc:
        raise WorkflowError(f"{path}: invalid SLA settings: {exc}") from exc
