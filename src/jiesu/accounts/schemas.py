from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Username = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9_.\-]{2,64}$")]
Password = Annotated[str, StringConstraints(min_length=8, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9\- ]{5,20}$")]
CODE_PATTERN = r"^[A-Za-z0-9_\-]{1,32}$"  # a jurisdiction's code: one segment of its path
Code = Annotated[str, StringConstraints(strip_whitespace=True, pattern=CODE_PATTERN)]
Level = Literal["district", "street", "community", "grid"]
Role = Literal["resident", "worker", "dispatcher", "supervisor", "admin"]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(_Input):
    username: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class JurisdictionCreate(_Input):
    code: Code
    name: Name
    level: Level
    parent_code: Code | None = None


class JurisdictionOut(BaseModel):
    code: str
    name: str
    level: str
    parent_code: str | None


class UserCreate(_Input):
    username: Username
    password: Password
    role: Role
    display_name: Name
    phone: Phone | None = None
    jurisdiction_code: Code | None = None
    categories: list[Annotated[str, StringConstraints(max_length=64)]] = Field(
        default_factory=list, max_length=50
    )
    on_duty: bool = True
    capacity: int = Field(default=20, ge=1, le=500)


class ResidentRegister(_Input):
    username: Username
    password: Password
    display_name: Name
    phone: Phone


class UserOut(BaseModel):
    username: str
    role: str
    display_name: str
    jurisdiction_code: str | None
    categories: list[str]
    on_duty: bool
    capacity: int
