"""The rates report: counts by SQL aggregates, rates and the composite score from the counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from jiesu.db import is_sqlite
from jiesu.reports.config import RATES, CompositeWeights
from jiesu.reports.projection import refresh
from jiesu.reports.sql import (
    NOT_EXCLUDED,
    Scope,
    Where,
    centihours_between,
    fetch,
    fetch_in_one_snapshot,
    utc,
    utc_day,
)

GroupBy = Literal["jurisdiction", "worker", "category", "day"]

COUNTS = """
SELECT grp,
  COUNT(*) AS received,
  SUM(CASE WHEN responded_at IS NOT NULL OR response_due < COALESCE(closed_at, {}) THEN 1 ELSE 0 END)
    AS response_counted,
  SUM(CASE WHEN responded_at IS NOT NULL AND responded_at <= response_due THEN 1 ELSE 0 END)
    AS responded_on_time,
  SUM(CASE WHEN resolved_at IS NOT NULL OR resolution_due < COALESCE(closed_at, {}) THEN 1 ELSE 0 END)
    AS resolution_counted,
  SUM(CASE WHEN resolved_at IS NOT NULL AND resolved_at <= resolution_due THEN 1 ELSE 0 END)
    AS resolved_on_time,
  SUM(CASE WHEN satisfaction IS NOT NULL THEN 1 ELSE 0 END) AS rated,
  SUM(CASE WHEN satisfaction IS NOT NULL AND filer_resolved THEN 1 ELSE 0 END) AS filer_resolved,
  SUM(CASE WHEN satisfaction >= 4 THEN 1 ELSE 0 END) AS satisfied,
  SUM(CASE WHEN reopen_count > 0 THEN 1 ELSE 0 END) AS reopened,
  SUM(returned) AS returned,
  {percentiles}
FROM {source} GROUP BY {grouping}
"""

BASE = """
WITH base AS (
  SELECT {key} AS grp, c.received_at, c.responded_at, c.response_due, c.resolved_at, c.resolution_due,
    c.closed_at, c.satisfaction, c.filer_resolved, c.reopen_count,
    {contact} AS t_contact, {resolution} AS t_resolution, {returned} AS returned
  FROM {table} c WHERE {where}
)
"""

Source = Literal["copy", "cases"]
# "copy": jiesu_report_case (projection.py), what the API reads; "cases": the case table and its events,
# the same figures computed from scratch (the tests compare the two)
RETURNED_FROM_EVENTS = """CASE WHEN c.id IN (SELECT e.case_id FROM jiesu_case_event e
      WHERE e.action = 'return_order') THEN 1 ELSE 0 END"""

# PostgreSQL: the percentiles in a statement of their own over the narrow (group, durations) rows, so
# the sorts carry 3 columns, not the 13 the counts need (those are summed by hash, without a sort)
PG_PERCENTILES = """
SELECT grp, {is_total} AS is_total,
  percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY t_contact) AS contact,
  percentile_disc(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY t_resolution) AS resolution
FROM base WHERE t_contact IS NOT NULL OR t_resolution IS NOT NULL
GROUP BY {grouping}
"""

# SQLite has no percentile aggregate: the same nearest-rank percentile (the smallest value whose rank
# reaches p of the values) from window ranks over the narrow (group, duration) rows of each clock.
SQLITE_PERCENTILE_CTE = """
, {name} AS (
  SELECT grp, MIN(CASE WHEN rn * 2 >= n THEN t END) AS p50, MIN(CASE WHEN rn * 10 >= n * 9 THEN t END) AS p90
  FROM (
    SELECT grp, {column} AS t, ROW_NUMBER() OVER (PARTITION BY grp ORDER BY {column}) AS rn,
      COUNT(*) OVER (PARTITION BY grp) AS n
    FROM base WHERE {column} IS NOT NULL
  ) ranked GROUP BY grp
)"""

SQLITE_JOIN = """
SELECT counts.*, pc.p50 AS contact_p50, pc.p90 AS contact_p90,
  pr.p50 AS resolution_p50, pr.p90 AS resolution_p90
FROM counts LEFT JOIN pc ON pc.grp IS counts.grp LEFT JOIN pr ON pr.grp IS counts.grp
"""


def sqlite_statement(where: Where, key: str, source: Source) -> str:
    return (
        _base(where, key, source)
        + SQLITE_PERCENTILE_CTE.format(name="pc", column="t_contact")
        + SQLITE_PERCENTILE_CTE.format(name="pr", column="t_resolution")
        + ", counts AS ("
        + COUNTS.format("{}", "{}", percentiles="0 AS unused", source="base", grouping="grp")
        + ")"
        + SQLITE_JOIN
    )


PG_WORK_MEM = "256MB"

GROUP_KEYS = {
    "jurisdiction": lambda: "c.jurisdiction_code",
    "worker": lambda: "c.assignee",
    "category": lambda: "c.category",
    "day": lambda: utc_day("c.received_at"),
}


@dataclass(frozen=True)
class RatesQuery:
    start: datetime
    end: datetime
    scope: Scope
    category: str | None = None
    group_by: GroupBy | None = None

    def where(self) -> Where:
        """The cases the report is about, exclusions included (they are listed, not counted)."""
        where = Where().plus("c.received_at >= {}", utc(self.start)).plus("c.received_at < {}", utc(self.end))
        if self.category:
            where = where.plus("c.category = {}", self.category)
        return self.scope.apply(where)


def ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def composite(rates: dict[str, float | None], weights: CompositeWeights) -> float | None:
    """Weighted mean of the defined rates, in points out of 100; the weights of undefined rates
    (no case counted) are left out rather than scored as zero."""
    defined = [(getattr(weights, name), rates[name]) for name in RATES if rates[name] is not None]
    total_weight = sum(weight for weight, _ in defined)
    if not total_weight:
        return None
    return round(100 * sum(weight * rate for weight, rate in defined) / total_weight, 2)  # type: ignore[operator]


def hours(centihours: Any) -> float | None:
    return None if centihours is None else int(centihours) / 100


def figures(row: dict[str, Any], weights: CompositeWeights) -> dict[str, Any]:
    counts = {key: int(row[key] or 0) for key in COUNT_COLUMNS}
    rates = {
        "response_rate": ratio(counts["responded_on_time"], counts["response_counted"]),
        "on_time_resolution_rate": ratio(counts["resolved_on_time"], counts["resolution_counted"]),
        "resolution_rate": ratio(counts["filer_resolved"], counts["rated"]),
        "satisfaction_rate": ratio(counts["satisfied"], counts["rated"]),
        "reopen_rate": ratio(counts["reopened"], counts["received"]),
        "returned_order_rate": ratio(counts["returned"], counts["received"]),
    }
    return {
        "group": row["grp"],
        **counts,
        **{name: None if rate is None else round(rate, 4) for name, rate in rates.items()},
        "composite_score": composite(rates, weights),  # from the unrounded rates
        "contact_hours_p50": hours(row.get("contact_p50")),
        "contact_hours_p90": hours(row.get("contact_p90")),
        "resolution_hours_p50": hours(row.get("resolution_p50")),
        "resolution_hours_p90": hours(row.get("resolution_p90")),
    }


COUNT_COLUMNS = (
    "received",
    "response_counted",
    "responded_on_time",
    "resolution_counted",
    "resolved_on_time",
    "rated",
    "filer_resolved",
    "satisfied",
    "reopened",
    "returned",
)


def _base(where: Where, key: str, source: Source) -> str:
    if source == "copy":
        return BASE.format(
            key=key,
            contact="c.contact_centihours",
            resolution="c.resolution_centihours",
            returned="c.returned",
            table="jiesu_report_case",
            where=where.sql,
        )
    return BASE.format(
        key=key,
        contact=centihours_between("c.responded_at", "c.received_at"),
        resolution=centihours_between("c.resolved_at", "c.received_at"),
        returned=RETURNED_FROM_EVENTS,
        table="jiesu_case",
        where=where.sql,
    )


async def counts_and_total(
    where: Where, key: str | None, now: datetime, source: Source
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The total row and the rows per group, counts and percentiles."""
    if is_sqlite():
        return await _sqlite_counts_and_total(where, key, now, source)
    return await _pg_counts_and_total(where, key, now, source)


async def _pg_counts_and_total(
    where: Where, key: str | None, now: datetime, source: Source
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Groups and total from the same scan (GROUPING SETS), groups in byte order (COLLATE "C": they are
    sorted again for the answer anyway); the counts and the percentiles in two statements reading one
    snapshot."""
    grouped = key is not None
    base = _base(where, f'({key}) COLLATE "C"' if grouped else "'all'", source)
    shape = {
        "is_total": "GROUPING(grp)" if grouped else "1",
        "grouping": "GROUPING SETS ((grp), ())" if grouped else "grp",
    }
    counts_sql = base + COUNTS.format(
        "{}", "{}", percentiles=f"{shape['is_total']} AS is_total", source="base", grouping=shape["grouping"]
    )
    counts, percentiles = await fetch_in_one_snapshot(
        [(counts_sql, (*where.args, now, now)), (base + PG_PERCENTILES.format(**shape), where.args)],
        # the per-group sorts of the percentiles stay in memory instead of spilling to disk; compiling
        # the expressions (jit) costs more than it saves here
        settings={"work_mem": PG_WORK_MEM, "jit": "off"},
    )
    by_group: dict[tuple[Any, Any], dict[str, Any]] = {}
    for row in percentiles:
        found = by_group.setdefault((row["is_total"], row["grp"]), {})
        for clock in ("contact", "resolution"):
            found[f"{clock}_p50"], found[f"{clock}_p90"] = row[clock] or (None, None)
    rows = [{**row, **by_group.get((row["is_total"], row["grp"]), {})} for row in counts]
    total = next((row for row in rows if row["is_total"]), None)
    return total, [row for row in rows if not row["is_total"]]


async def _sqlite_counts_and_total(
    where: Where, key: str | None, now: datetime, source: Source
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """One statement for the total, one for the groups."""
    results = []
    for group_key in ("'all'", key):
        if group_key is None:
            results.append([])
            continue
        sql = sqlite_statement(where, group_key, source)
        results.append(await fetch(sql, *where.args, now, now))
    return (results[0][0] if results[0] else None), results[1]


async def rates_report(
    query: RatesQuery, weights: CompositeWeights, now: datetime, source: Source = "copy"
) -> dict[str, Any]:
    if source == "copy":
        await refresh()
    counted = query.where().plus(NOT_EXCLUDED)
    key = GROUP_KEYS[query.group_by]() if query.group_by else None
    total_row, rows = await counts_and_total(counted, key, now, source)
    empty = {"grp": "all", **dict.fromkeys(COUNT_COLUMNS, 0)}
    total = figures({**(total_row or empty), "grp": "all"}, weights)
    groups = sorted(
        (figures(row, weights) for row in rows), key=lambda g: (g["group"] is None, str(g["group"]))
    )
    return {"total": total, "groups": groups}
