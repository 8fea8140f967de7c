"""A resident's account, for residents' rights (jiesu.rights): its export, and its deletion."""

from __future__ import annotations

from typing import Any

from jiesu.accounts.tables import User
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
    """The account stays as a disabled row under its pseudonym, with no name, phone or password."""
    await User.update(
        {
            User.username: pseudonym,
            User.display_name: ERASED,
            User.phone: None,
            User.password_hash: "",
            User.active: False,
        }
    ).where(User.username == username)
