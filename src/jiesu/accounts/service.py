"""Jurisdictions and users: creation rules, login, the initial admin."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from piccolo.query import WhereRaw

from jiesu.accounts.lockout import HashSlots
from jiesu.accounts.policy import check_password_policy
from jiesu.accounts.schemas import (
    JurisdictionCreate,
    JurisdictionOut,
    PasswordReset,
    ResidentRegister,
    UserCreate,
    UserOut,
    UserUpdate,
)
from jiesu.accounts.security import (
    FILER_ROLE,
    Passwords,
    Principal,
    fold_username,
    is_reserved_username,
    username_key,
)
from jiesu.accounts.standing import AccountStandings, bump_token_version
from jiesu.accounts.tables import Jurisdiction, User, UsernameTombstone
from jiesu.clock import Clock, system_clock
from jiesu.db import write_transaction
from jiesu.errors import AlreadyExists, Conflict, NotFound, field_error

PARENT_LEVEL = {"district": None, "street": "district", "community": "street", "grid": "community"}
INITIAL_ADMIN = "admin"
# Records an admin's change of an account in the audit chain (app.py wires jiesu.audit in): actor,
# action, fields, time. Called inside the change's write transaction.
ChangeRecorder = Callable[[Principal, str, dict[str, Any], datetime], Awaitable[None]]
ONE_TIME_PASSWORD_BYTES = 12

log = logging.getLogger("jiesu.accounts")


async def username_taken(username: str) -> bool:
    """Taken by an account (whatever its case) or by the tombstone of an erased one."""
    folded = fold_username(username)
    if await User.exists().where(WhereRaw("lower(username) = {}", folded)):
        return True
    return bool(await UsernameTombstone.exists().where(UsernameTombstone.name_key == username_key(folded)))


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
        active=row.get("active", True),
    )


async def _no_record(_actor: Principal, _action: str, _fields: dict[str, Any], _at: datetime) -> None:
    return None


class AccountService:
    def __init__(
        self,
        passwords: Passwords,
        clock: Clock = system_clock,
        standings: AccountStandings | None = None,
        record: ChangeRecorder = _no_record,
        hash_slots: HashSlots | None = None,
    ) -> None:
        self.passwords = passwords
        self.clock = clock
        self.standings = standings or AccountStandings(0)
        self.record = record
        self.hash_slots = hash_slots or HashSlots()

    async def hash_password(self, password: str, field: str = "password") -> str:
        """The hash of a new password: the policy first, then argon2 in one of the hashing slots."""
        check_password_policy(password, field)
        return await self.hash_slots.run(self.passwords.hash, password)

    async def verify_password(self, password_hash: str | None, password: str) -> bool:
        """Constant work whether or not there is a hash, in one of the hashing slots."""
        return await self.hash_slots.run(self.passwords.verify, password_hash, password)

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

    async def create_user(self, data: UserCreate, *, reserved_ok: bool = False) -> UserOut:
        if data.role == "worker" and not data.jurisdiction_code:
            raise field_error("jurisdiction_code", "a worker belongs to a jurisdiction")
        if not reserved_ok and is_reserved_username(data.username):
            raise field_error("username", f"{data.username!r} is reserved: choose another username")
        password_hash = await self.hash_password(data.password)
        async with write_transaction():
            if data.jurisdiction_code:
                await require_jurisdiction(data.jurisdiction_code)
            if await username_taken(data.username):
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
                User.username,
                User.password_hash,
                User.role,
                User.jurisdiction_code,
                User.active,
                User.token_version,
                User.must_change_password,
            )
            .where(User.username == username)
            .first()
        )
        stored = row["password_hash"] if row and row["active"] else None
        ok = await self.verify_password(stored, password)
        if not ok or row is None:
            return None
        return await self._principal(row)

    @staticmethod
    async def _principal(row: dict[str, Any]) -> Principal:
        path = None
        if row["jurisdiction_code"]:
            jurisdiction = await find_jurisdiction(row["jurisdiction_code"])
            path = jurisdiction["path"] if jurisdiction else None
        return Principal(
            row["username"],
            row["role"],
            row["jurisdiction_code"],
            path,
            token_version=int(row["token_version"]),
            must_change_password=bool(row["must_change_password"]),
        )

    async def _user(self, username: str) -> dict[str, Any]:
        row = await User.select().where(User.username == username).first()
        if row is None:
            raise NotFound(f"no user {username!r}")
        return row

    # ---- what ends tokens and sessions -------------------------------------------------------

    async def update_user(self, actor: Principal, username: str, data: UserUpdate) -> UserOut:
        """An admin changes an account; disabling it or changing its role or place ends its sessions."""
        given = {name: getattr(data, name) for name in data.model_fields_set}
        if not given:
            raise field_error("body", "name at least one of active, role, jurisdiction_code, display_name")
        for name in ("active", "role", "display_name"):
            if name in given and given[name] is None:
                raise field_error(name, "must not be null")
        async with write_transaction():
            row = await self._user(username)
            if not row["active"] and row["password_hash"] == "" and given.get("active"):
                raise Conflict("active: an erased account cannot be enabled again")
            changes: dict[str, Any] = {k: v for k, v in given.items() if row[k] != v}
            if "jurisdiction_code" in changes and changes["jurisdiction_code"] is not None:
                await require_jurisdiction(changes["jurisdiction_code"])
            role = changes.get("role", row["role"])
            jurisdiction = changes.get("jurisdiction_code", row["jurisdiction_code"])
            if role == "worker" and not jurisdiction:
                raise field_error("jurisdiction_code", "a worker belongs to a jurisdiction")
            demoted = changes.get("role", "admin") != "admin" or changes.get("active") is False
            if row["role"] == "admin" and demoted and not await self._another_admin(username):
                raise Conflict(f"{'role' if 'role' in changes else 'active'}: this is the last active admin")
            if not changes:
                return user_out(row)
            revoking = bool({"role", "jurisdiction_code"} & changes.keys()) or changes.get("active") is False
            await User.update({getattr(User, k): v for k, v in changes.items()}).where(
                User.username == username
            )
            if revoking:
                await bump_token_version(username)
            recorded = {k: v for k, v in changes.items() if k != "display_name"}
            if "display_name" in changes:
                recorded["display_name"] = "changed"
            await self.record(
                actor,
                "account_change",
                {"user_id": row["id"], "changed": recorded, "sessions_ended": revoking},
                self.clock(),
            )
            updated = await self._user(username)
        self.standings.forget(username)
        return user_out(updated)

    async def _another_admin(self, username: str) -> bool:
        return bool(
            await User.exists().where(
                (User.role == "admin") & (User.active == True) & (User.username != username)  # noqa: E712
            )
        )

    async def change_password(self, actor: Principal, old_password: str, new_password: str) -> Principal:
        """The caller changes their own password; every earlier token and session ends, a new one begins."""
        if actor.role == FILER_ROLE:
            raise field_error("old_password", "an access-code holder has no password")
        row = await self._user(actor.username)
        ok = await self.verify_password(row["password_hash"], old_password)
        if not ok or not row["active"]:
            raise field_error("old_password", "the old password is not right")
        if new_password == old_password:
            raise field_error("new_password", "the new password must differ from the old one")
        new_hash = await self.hash_password(new_password, "new_password")
        async with write_transaction():
            # Guarded by the version read above: a reset or a disabling meanwhile wins.
            await User.update(
                {
                    User.password_hash: new_hash,
                    User.must_change_password: False,
                    User.token_version: User.token_version + 1,
                }
            ).where((User.username == actor.username) & (User.token_version == row["token_version"]))
            fresh = await self._user(actor.username)
            if fresh["token_version"] != row["token_version"] + 1:
                raise Conflict("password: the account changed meanwhile; log in again")
        self.standings.forget(actor.username)
        log.info("password changed: username=%r", actor.username)
        return await self._principal(fresh)

    async def reset_password(self, actor: Principal, username: str) -> PasswordReset:
        """An admin sets a one-time password: until it is changed the account can only change it."""
        one_time = secrets.token_urlsafe(ONE_TIME_PASSWORD_BYTES)
        new_hash = await self.hash_slots.run(self.passwords.hash, one_time)
        async with write_transaction():
            row = await self._user(username)
            if not row["active"]:
                raise Conflict("active: enable the account before resetting its password")
            await User.update({User.password_hash: new_hash, User.must_change_password: True}).where(
                User.username == username
            )
            await bump_token_version(username)
            await self.record(actor, "password_reset", {"user_id": row["id"]}, self.clock())
        self.standings.forget(username)
        return PasswordReset(username=username, one_time_password=one_time)

    async def logout(self, actor: Principal) -> None:
        """End every token and page session of the caller's account (on every device)."""
        if actor.role == FILER_ROLE:
            return
        async with write_transaction():
            await bump_token_version(actor.username)
        self.standings.forget(actor.username)

    async def ensure_admin(self, password: str | None) -> bool:
        """Create the initial admin when no admin exists and a password is configured.

        Its name is ``admin``, reserved for it; should an older account hold that name (registered
        before names were reserved), the admin is ``admin-2`` (or the next free one) and the log says so.
        """
        if not password or await User.exists().where(User.role == "admin"):
            return False
        for attempt in range(1, 10):
            username = INITIAL_ADMIN if attempt == 1 else f"{INITIAL_ADMIN}-{attempt}"
            if await username_taken(username):
                continue
            try:
                await self.create_user(
                    UserCreate(
                        username=username, password=password, role="admin", display_name="Administrator"
                    ),
                    reserved_ok=True,
                )
            except Exception:
                # Several app processes start at once: another one created the admin in the meantime.
                if await User.exists().where(User.role == "admin"):
                    return False
                raise
            if username != INITIAL_ADMIN:
                log.warning(
                    "the username %r belongs to a non-admin account: the admin is %r", "admin", username
                )
            return True
        log.error("no initial admin created: the usernames admin, admin-2 ... admin-9 are all taken")
        return False
