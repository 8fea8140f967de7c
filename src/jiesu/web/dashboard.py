"""What the supervisor dashboard needs, computed from the case table.

A small query module of the pages' own; when the reports service (src/jiesu/reports/) lands, the
dashboard can call it instead. Definitions used here:
- response rate: of the cases whose response deadline has passed or that were answered, the share first
  contacted by the deadline;
- resolution rate: of the rated cases, the share the filer says were resolved;
- satisfaction rate: of the rated cases, the share rated 3 or more (the workflow's "satisfied");
- composite score: 10 % response + 45 % resolution + 45 % satisfaction (the Beijing 12345 weights),
  only when all three rates have data.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.accounts.tables import Jurisdiction
from jiesu.cases.tables import Case

WEIGHTS = {"response": 0.10, "resolution": 0.45, "satisfaction": 0.45}
NOT_ANSWERED = ("rejected", "merged")
RATE_LEVELS = ("district", "street", "community")


@dataclass
class Rates:
    code: str
    name: str
    level: str
    depth: int
    received: int = 0
    response_due: int = 0
    responded_in_time: int = 0
    rated: int = 0
    resolved: int = 0
    satisfied: int = 0

    @staticmethod
    def _share(part: int, whole: int) -> float | None:
        return part / whole if whole else None

    @property
    def response_rate(self) -> float | None:
        return self._share(self.responded_in_time, self.response_due)

    @property
    def resolution_rate(self) -> float | None:
        return self._share(self.resolved, self.rated)

    @property
    def satisfaction_rate(self) -> float | None:
        return self._share(self.satisfied, self.rated)

    @property
    def composite(self) -> float | None:
        rates = (self.response_rate, self.resolution_rate, self.satisfaction_rate)
        if any(rate is None for rate in rates):
            return None
        return 100 * sum(w * r for w, r in zip(WEIGHTS.values(), rates, strict=True))  # type: ignore[misc]


@dataclass
class DayTimes:
    day: date
    count: int
    median_hours: float
    p90_hours: float


@dataclass
class Dashboard:
    start: date
    end: date
    rates: list[Rates]
    days: list[DayTimes]
    overdue_by_level: list[tuple[str, int]]
    hot_spots: list[tuple[str, str, int]]  # place name, category code, count
    total: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def p90(values: list[float]) -> float:
    """Nearest-rank 90th percentile."""
    ordered = sorted(values)
    return ordered[max(math.ceil(0.9 * len(ordered)) - 1, 0)]


def _scope(actor: Principal, query: Any, column: Any) -> Any:
    if actor.jurisdiction_path and actor.role != "admin":
        return query.where(column.like(f"{actor.jurisdiction_path}%"))
    return query


def _period_bounds(start: date, end: date, tz: tzinfo) -> tuple[datetime, datetime]:
    begin = datetime.combine(start, datetime.min.time(), tz)
    finish = datetime.combine(end + timedelta(days=1), datetime.min.time(), tz)
    return begin, finish


async def build(actor: Principal, start: date, end: date, now: datetime, tz: tzinfo) -> Dashboard:
    begin, finish = _period_bounds(start, end, tz)
    places = await _scope(actor, Jurisdiction.select().order_by(Jurisdiction.path), Jurisdiction.path).run()
    by_path = {p["path"]: p for p in places}
    rates = {
        p["path"]: Rates(p["code"], p["name"], p["level"], p["path"].count("/") - 2)
        for p in places
        if p["level"] in RATE_LEVELS
    }
    columns = (
        Case.jurisdiction_path,
        Case.category,
        Case.received_at,
        Case.response_due,
        Case.responded_at,
        Case.outcome,
        Case.filer_resolved,
        Case.satisfaction,
    )
    query = Case.select(*columns).where((Case.received_at >= begin) & (Case.received_at < finish))
    rows = await _scope(actor, query, Case.jurisdiction_path).run()
    response_hours: dict[date, list[float]] = defaultdict(list)
    hot: Counter[tuple[str, str]] = Counter()
    for row in rows:
        path = row["jurisdiction_path"] or ""
        for ancestor in _ancestors(path):
            if ancestor in rates:
                _count(rates[ancestor], row, now)
        if row["responded_at"] is not None:
            day = row["received_at"].astimezone(tz).date()
            hours = (row["responded_at"] - row["received_at"]).total_seconds() / 3600
            response_hours[day].append(hours)
        place = _nearest_named(path, by_path)
        hot[(place, row["category"] or "")] += 1
    days = [
        DayTimes(day, len(values), statistics.median(values), p90(values))
        for day, values in sorted(response_hours.items())
    ]
    return Dashboard(
        start=start,
        end=end,
        rates=list(rates.values()),
        days=days,
        overdue_by_level=await _overdue_by_level(actor, now, by_path),
        hot_spots=[(place, category, n) for (place, category), n in hot.most_common(10)],
        total=len(rows),
    )


def _ancestors(path: str) -> list[str]:
    """'/D1/S1/C1/' → ['/D1/', '/D1/S1/', '/D1/S1/C1/']."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _nearest_named(path: str, by_path: dict[str, dict[str, Any]]) -> str:
    """The community (or higher) a case belongs to: grids roll up into their community."""
    for ancestor in reversed(_ancestors(path)):
        place = by_path.get(ancestor)
        if place and place["level"] != "grid":
            return place["name"]
    return ""


def _count(rates: Rates, row: dict[str, Any], now: datetime) -> None:
    rates.received += 1
    if row["outcome"] in NOT_ANSWERED:
        return
    if row["responded_at"] is not None or (row["response_due"] and row["response_due"] < now):
        rates.response_due += 1
        if row["responded_at"] is not None and row["responded_at"] <= row["response_due"]:
            rates.responded_in_time += 1
    if row["satisfaction"] is not None:
        rates.rated += 1
        rates.resolved += 1 if row["filer_resolved"] else 0
        rates.satisfied += 1 if row["filer_resolved"] and row["satisfaction"] >= 3 else 0


async def _overdue_by_level(
    actor: Principal, now: datetime, by_path: dict[str, dict[str, Any]]
) -> list[tuple[str, int]]:
    """Open cases past their current deadline, by the level that holds them now."""
    query = Case.select(Case.jurisdiction_path, Case.escalation_level).where(
        (Case.state != "closed") & (Case.due_at < now)
    )
    rows = await _scope(actor, query, Case.jurisdiction_path).run()
    counts: Counter[str] = Counter()
    for row in rows:
        escalated = row["escalation_level"] or ""
        if escalated.startswith("department:"):
            counts["department"] += 1
        elif escalated:
            counts[escalated] += 1
        else:
            place = by_path.get(row["jurisdiction_path"] or "")
            counts[place["level"] if place else "none"] += 1
    order = ["district", "street", "community", "grid", "department", "none"]
    return sorted(counts.items(), key=lambda item: order.index(item[0]) if item[0] in order else 99)


def rates_csv(dashboard: Dashboard) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "code",
            "name",
            "level",
            "period_start",
            "period_end",
            "received",
            "response_rate",
            "resolution_rate",
            "satisfaction_rate",
            "composite_score",
        ]
    )
    for row in dashboard.rates:
        writer.writerow(
            [
                row.code,
                row.name,
                row.level,
                dashboard.start.isoformat(),
                dashboard.end.isoformat(),
                row.received,
                _fmt(row.response_rate),
                _fmt(row.resolution_rate),
                _fmt(row.satisfaction_rate),
                "" if row.composite is None else f"{row.composite:.1f}",
            ]
        )
    return out.getvalue()


def _fmt(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.4f}"
