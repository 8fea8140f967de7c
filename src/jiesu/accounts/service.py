"""Jurisdictions and users: creation rules, login, the initial admin."""

from __future__ import annotations

import json
from typing import Any

import anyio

from jiesu.accounts.schemas import (
    JurisdictionCreate,
    JurisdictionOut,
    ResidentRegister,
    UserCreate,
    UserOut,
)
from jiesu.accounts.security import Passwords, Principal
from jiesu.accounts.tables import Jurisdiction, User
from jiesu.clock import Clock, system_clock
from jiesu.db import write_transaction
from jiesu.errors import AlreadyExists, field_error

PARENT_LEVEL = {"district": None, "street": "district", "community": "street", "grid": "community"}


async def find_jurisdiction(code: str) -> dict[str, Any] | None:
    return await Jurisdiction.select().where(Jurisdiction.code == code).first()


async def require_jurisdiction(code: str, field: str = "jurisdiction_code") -> dict[str, Any]:
    row = await find_jurisdiction(code)
    if row is None:
        raise field_error(field, f"no jurisdiction with code {code!r}")
    return row


def user_out(row: dict[str, Any]) -> UserOut:
    return UserOut(
        username=row["username"],
        role=row["role"],
        display_name=row["display_name"],
        jurisdiction_code=row["jurisdiction_code"],
        categories=json.loads(row["categories"] or "[]"),
        on_duty=row["on_duty"],
        capacity=row["capacity"],
    )


class AccountService:
    def __init__(self, passwords: Passwords, clock: Clock = system_clock) -> None:
        self.passwords = passwords
        self.clock = clock

    async def create_jurisdiction(self, data: JurisdictionCreate) -> JurisdictionOut:
        expected_parent = PARENT_LEVEL[data.level]
        async with write_transaction():
            taken = [r["code"] for r in await Jurisdiction.select(Jurisdiction.code)]
            same = [code for code in taken if code.casefold() == data.code.casefold()]
            if data.code in same:
                raise AlreadyExists(f"code: {data.code!r} exists already")
            if same:  # S1 and s1 would be told apart by the scope filters but not by people
                raise AlreadyExists(f"code: {data.code!r} differs from {same[0]!r} only in case")
            if expected_parent is None:
                if data.parent_code:
                    raise field_error("parent_code", "a district has no parent")
                path = f"/{data.code}/"
            else:
                if not data.parent_code:
                    raise field_error("parent_code", f"a {data.level} needs a {expected_parent}")
                parent = await require_jurisdiction(data.parent_code, "parent_code")
                if parent["level"] != expected_parent:
                    raise field_error(
                        "parent_code", f"the parent of a {data.level} must be a {expected_parent}"
                    )
                path = f"{parent['path']}{data.code}/"
            await Jurisdiction.insert(
                Jurisdiction(
                    code=data.code,
                    name=data.name,
                    level=data.level,
                    parent_code=data.parent_code,
                    path=path,
                )
            )
        return JurisdictionOut(**data.model_dump())

    async def create_user(self, data: UserCreate) -> UserOut:
        if data.role == "worker" and not data.jurisdiction_code:
            raise field_error("jurisdiction_code", "a worker belongs to a jurisdiction")
        password_hash = await anyio.to_thread.run_sync(self.passwords.hash, data.password)
        async with write_transaction():
            if data.jurisdiction_code:
                await require_jurisdiction(data.jurisdiction_code)
            if await User.exists().where(User.username == data.username):
                raise AlreadyExists(
                    f"username: {data.username!r} is taken",
                )
            row = User(
                username=data.username,
                password_hash=password_hash,
                role=data.role,
                display_name=data.display_name,
                phone=data.phone,
                jurisdiction_code=data.jurisdiction_code,
                categories=json.dumps(data.categories),
                on_duty=data.on_duty,
                capacity=data.capacity,
                created_at=self.clock(),
            )
            await User.insert(row)
        return user_out(row.to_dict())

    async def register_resident(self, data: ResidentRegister) -> UserOut:
        return await self.create_user(
            UserCreate(
                username=data.username,
                password=data.password,
                role="resident",
                display_name=data.display_name,
                phone=data.phone,
            )
        )

    async def authenticate(self, username: str, password: str) -> Principal | None:
        row = (
            await User.select(
                User.username, User.password_hash, User.role, User.jurisdiction_code, User.active
            )
            .where(User.username == username)
            .first()
        )
        stored = row["password_hash"] if row and row["active"] else None
        ok = await anyio.to_thread.run_sync(self.passwords.verify, stored, password)
        if not ok or row is None:
            return None
        path = None
        if row["jurisdiction_code"]:
            jurisdiction = await find_jurisdiction(row["jurisdiction_code"])
            path = jurisdiction["path"] if jurisdiction else None
        return Principal(row["username"], row["role"], row["jurisdiction_code"], path)

    async def ensure_admin(self, password: str | None) -> bool:
        """Create the user ``admin`` when no admin exists and a password is configured."""
        if not password or await User.exists().where(User.role == "admin"):
            return False
        try:
            await self.create_user(
                UserCreate(username="admin", password=password, role="admin", display_name="Administrator")
            )
        except Exception:
            # Several app processes start at once: another one created the admin in the meantime.
            if await User.exists().where(User.role == "admin"):
                return False
            raise
        return True
