"""A resident's account, for residents' rights (jiesu.rights): its export, and its deletion."""

from __future__ import annotations

from typing import Any

from jiesu.accounts.security import username_key
from jiesu.accounts.standing import forget_everywhere
from jiesu.accounts.tables import User, UsernameTombstone
from jiesu.privacy import ERASED, DataSubject

EXPORTED_ACCOUNT_COLUMNS = ("username", "role", "display_name", "phone", "created_at")


async def account_id(username: str) -> int | None:
    row = await User.select(User.id).where(User.username == username).first()
    return None if row is None else int(row["id"])


async def export_account(subject: DataSubject) -> dict[str, Any] | None:
    if subject.username is None:
        return None
    user = await User.select().where(User.username == subject.username).first()
    return None if user is None else {k: user[k] for k in EXPORTED_ACCOUNT_COLUMNS}


async def forget_account(username: str, pseudonym: str) -> None:
    """The account stays as a disabled row under its pseudonym, with no name, phone or password.

    Its username is not given again: a tombstone (a hash of the name) keeps it taken, so no one who
    registers the same name later is taken for the erased resident. Its tokens and sessions end.
    """
    row = await User.select(User.created_at).where(User.username == username).first()
    await User.update(
        {
            User.username: pseudonym,
            User.display_name: ERASED,
            User.phone: None,
            User.password_hash: "",
            User.active: False,
            User.must_change_password: False,
            User.token_version: User.token_version + 1,
        }
    ).where(User.username == username)
    forget_everywhere(username)
    key = username_key(username)
    if row is not None and not await UsernameTombstone.exists().where(UsernameTombstone.name_key == key):
        await UsernameTombstone.insert(UsernameTombstone(name_key=key, created_at=row["created_at"]))
