from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from jiesu.routing.rules import RuleSet

Fragment = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
Skill = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")]


class RulesUpdate(RuleSet):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # The version the admin edited; a stale one answers 409 instead of overwriting someone's change.
    version: int | None = Field(default=None, ge=0)


class RulesOut(RuleSet):
    version: int
    saved_by: str | None = None
    saved_at: datetime | None = None


class AreaUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    patterns: list[Fragment] = Field(default_factory=list, max_length=500)
    boundary: list[tuple[float, float]] | None = Field(default=None, min_length=3, max_length=5000)

    @field_validator("boundary")
    @classmethod
    def _lon_lat(cls, ring: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
        for lon, lat in ring or []:
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError("each vertex is [lon, lat] with -180 <= lon <= 180 and -90 <= lat <= 90")
        return ring


def _not_a_bool(value: Any) -> Any:
    """JSON true/false is not a coordinate (pydantic's lax mode would read it as 1.0/0.0)."""
    if isinstance(value, bool):
        raise ValueError("a coordinate is a number, not true/false")
    return value


Latitude = Annotated[float, BeforeValidator(_not_a_bool), Field(ge=-90, le=90)]
Longitude = Annotated[float, BeforeValidator(_not_a_bool), Field(ge=-180, le=180)]


class AreaOut(BaseModel):
    jurisdiction_code: str
    level: str
    patterns: list[str]
    boundary: list[tuple[float, float]] | None


class LocateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
    lat: Latitude | None = None
    lon: Longitude | None = None


class LocateOut(BaseModel):
    jurisdiction_code: str | None
    level: str | None
    located_by: str | None


class DutyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    on_duty: bool


class WorkerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    skills: list[Skill] | None = Field(default=None, max_length=50)
    capacity: int | None = Field(default=None, ge=1, le=500)
    on_duty: bool | None = None


class WorkerOut(BaseModel):
    username: str
    jurisdiction_code: str | None
    skills: list[str]
    on_duty: bool
    capacity: int
    open_cases: int
    weighted_load: int


class RuleStats(BaseModel):
    rule_id: str | None
    routed: int
    assigned: int
    flagged: int
    returns: int
