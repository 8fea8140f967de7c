"""The account listings the API and the pages share: the active workers, the jurisdictions' paths."""

from __future__ import annotations

from typing import Any

from piccolo.columns import Column

from jiesu.accounts.tables import Jurisdiction, User


async def active_workers(*columns: Column) -> list[dict[str, Any]]:
    """Every active worker by user name (all columns unless some are named)."""
    active = (User.role == "worker") & (User.active == True)  # noqa: E712
    return await User.select(*columns).where(active).order_by(User.username)


async def jurisdiction_paths() -> dict[str, str]:
    """code → path of every jurisdiction."""
    rows = await Jurisdiction.select(Jurisdiction.code, Jurisdiction.path)
    return {row["code"]: row["path"] for row in rows}
