"""Small helpers for the report queries: WHERE fragments with their arguments, dialect differences,
and the caller's scope as a filter."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.accounts.service import find_jurisdiction
from jiesu.cases.tables import Case
from jiesu.db import current_engine, is_sqlite, prefix_range_sql
from jiesu.errors import Forbidden, NotFound, field_error

NOT_EXCLUDED = "c.id NOT IN (SELECT x.case_id FROM jiesu_report_exclusion x)"


@dataclass(frozen=True)
class Where:
    """AND-ed fragments with ``{}`` placeholders, and their arguments in order."""

    parts: tuple[str, ...] = ()
    args: tuple[Any, ...] = ()

    def plus(self, fragment: str, *args: Any) -> Where:
        return Where((*self.parts, fragment), (*self.args, *args))

    @property
    def sql(self) -> str:
        return " AND ".join(f"({part})" for part in self.parts) or "1 = 1"


async def fetch(sql: str, *args: Any) -> list[dict[str, Any]]:
    return await Case.raw(sql, *args)


async def fetch_in_one_snapshot(
    statements: list[tuple[str, tuple[Any, ...]]], settings: dict[str, str]
) -> list[list[dict[str, Any]]]:
    """PostgreSQL: read-only statements in one REPEATABLE READ transaction, so their answers fit together
    exactly (one snapshot), with ``settings`` (SET LOCAL) for that transaction only."""
    async with current_engine().transaction():
        await fetch("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        for name, value in settings.items():
            await fetch(f"SET LOCAL {name} = '{value}'")
        return [await fetch(sql, *args) for sql, args in statements]


def utc(value: datetime) -> datetime:
    """Naive times in a query mean UTC; SQLite compares the stored UTC text, so normalise."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def as_datetime(value: Any) -> datetime | None:
    """A timestamp from a raw query: SQLite answers text for computed columns."""
    if value is None or isinstance(value, datetime):
        return value
    return utc(datetime.fromisoformat(str(value)))


def centihours_between(later: str, earlier: str) -> str:
    """The duration in hundredths of an hour, rounded half up (NULL when ``later`` is NULL): the unit the
    reports show durations in. Percentiles are taken over these integers; rounding is monotonic, so the
    nearest-rank percentile of the rounded durations is the rounded percentile of the exact ones."""
    if is_sqlite():  # CAST truncates: the same as floor for the durations, which are never negative
        return f"CAST((julianday({later}) - julianday({earlier})) * 2400.0 + 0.5 AS INTEGER)"
    return f"CAST(floor(date_part('epoch', {later} - {earlier}) / 36 + 0.5) AS INTEGER)"


def utc_day(column: str) -> str:
    if is_sqlite():
        return f"substr({column}, 1, 10)"
    return f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


@dataclass(frozen=True)
class Scope:
    """What a caller's figures cover: a jurisdiction subtree, one worker's cases, or both."""

    path: str | None = None
    assignee: str | None = None

    def apply(self, where: Where) -> Where:
        if self.path:
            fragment, bounds = prefix_range_sql("c.jurisdiction_path", self.path)
            where = where.plus(fragment, *bounds)
        if self.assignee:
            where = where.plus("c.assignee = {}", self.assignee)
        return where


def base_scope(actor: Principal) -> Scope:
    """Supervisors and dispatchers: their subtree (city-wide without one); workers: their own cases."""
    if actor.role == "worker":
        return Scope(assignee=actor.username)
    if actor.role in ("supervisor", "dispatcher"):
        return Scope(path=actor.jurisdiction_path)
    if actor.role == "admin":
        return Scope()
    raise Forbidden("reports are for staff")


async def resolve_scope(actor: Principal, jurisdiction: str | None) -> Scope:
    scope = base_scope(actor)
    if not jurisdiction:
        return scope
    row = await find_jurisdiction(jurisdiction)
    if row is None:
        raise field_error("jurisdiction", f"no jurisdiction with code {jurisdiction!r}")
    if scope.path and not row["path"].startswith(scope.path):
        raise NotFound(f"jurisdiction {jurisdiction} is outside your scope")
    return replace(scope, path=row["path"])
