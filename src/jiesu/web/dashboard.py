"""The supervisor dashboard, read from the supervision reports (src/jiesu/reports/).

Every figure comes from the ReportService, with its scope rules and its definitions (README.md,
"Reports"): the rates and the composite score of the cases received in the period, the response times
per (UTC) day, the overdue cases now and the rising hot spots. The only work done here is the roll-up of
the report's per-jurisdiction counts into a row per district, street and community, scored by the
reports' own `figures`, so a row equals `GET /api/reports/rates?jurisdiction=CODE` for the period.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.accounts.tables import Jurisdiction
from jiesu.reports.rates import COUNT_COLUMNS, figures
from jiesu.reports.service import ReportService
from jiesu.reports.sql import Scope, base_scope

RATE_LEVELS = ("district", "street", "community")


@dataclass
class PlaceRates:
    code: str
    name: str
    level: str
    depth: int
    figures: dict[str, Any]

    @property
    def received(self) -> int:
        return int(self.figures["received"])

    @property
    def response_rate(self) -> float | None:
        return self.figures["response_rate"]

    @property
    def resolution_rate(self) -> float | None:
        return self.figures["resolution_rate"]

    @property
    def satisfaction_rate(self) -> float | None:
        return self.figures["satisfaction_rate"]

    @property
    def composite(self) -> float | None:
        return self.figures["composite_score"]


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
    rates: list[PlaceRates]
    days: list[DayTimes]
    weights: dict[str, float]
    overdue: dict[str, Any]
    hotspots: dict[str, Any]
    names: dict[str, str]  # jurisdiction code → name, for the overdue and hot-spot tables
    total: int = 0
    excluded: list[dict[str, Any]] = field(default_factory=list)


def period_bounds(start: date, end: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The period's days in the pages' time zone, as the report's half-open [from, to)."""
    begin = datetime.combine(start, datetime.min.time(), tz)
    finish = datetime.combine(end + timedelta(days=1), datetime.min.time(), tz)
    return begin, finish


async def build(reports: ReportService, actor: Principal, start: date, end: date, tz: tzinfo) -> Dashboard:
    scope = base_scope(actor)
    begin, finish = period_bounds(start, end, tz)
    places = await _places(scope)
    by_code = await reports.rates(scope, begin, finish, group_by="jurisdiction")
    by_day = await reports.rates(scope, begin, finish, group_by="day")
    return Dashboard(
        start=start,
        end=end,
        rates=_roll_up(places, by_code["groups"], scope, reports),
        days=_days(by_day["groups"]),
        weights=by_code["weights"],
        overdue=await reports.overdue(scope),
        hotspots=await reports.hotspots(scope),
        names={p["code"]: p["name"] for p in places},
        total=by_code["total"]["received"],
        excluded=by_code["exclusions"],
    )


async def _places(scope: Scope) -> list[dict[str, Any]]:
    """The jurisdictions of the scope and their ancestors (the overdue report names those too)."""
    query = Jurisdiction.select(Jurisdiction.code, Jurisdiction.name, Jurisdiction.level, Jurisdiction.path)
    rows = await query.order_by(Jurisdiction.path).run()
    if not scope.path:
        return rows
    return [p for p in rows if p["path"].startswith(scope.path) or scope.path.startswith(p["path"])]


def _roll_up(
    places: list[dict[str, Any]], groups: list[dict[str, Any]], scope: Scope, reports: ReportService
) -> list[PlaceRates]:
    """A row per district, street and community in scope: the counts of the jurisdictions under it
    added up (counts add up, rates do not), then the rates and the composite by the reports' `figures`."""
    listed = [p for p in places if p["level"] in RATE_LEVELS and p["path"].startswith(scope.path or "")]
    totals = {p["path"]: dict.fromkeys(COUNT_COLUMNS, 0) for p in listed}
    path_of = {p["code"]: p["path"] for p in places}
    for group in groups:
        for ancestor in _ancestors(path_of.get(group["group"] or "", "")):
            if ancestor in totals:
                for column in COUNT_COLUMNS:
                    totals[ancestor][column] += group[column]
    weights = reports.settings.composite_weights
    return [
        PlaceRates(
            p["code"],
            p["name"],
            p["level"],
            p["path"].count("/") - 2,
            figures({"grp": p["code"], **totals[p["path"]]}, weights),
        )
        for p in listed
    ]


def _ancestors(path: str) -> list[str]:
    """'/D1/S1/C1/' → ['/D1/', '/D1/S1/', '/D1/S1/C1/']."""
    parts = [p for p in path.split("/") if p]
    return ["/" + "/".join(parts[: i + 1]) + "/" for i in range(len(parts))]


def _days(groups: list[dict[str, Any]]) -> list[DayTimes]:
    """The days with at least one first contact, with the report's nearest-rank p50 and p90."""
    return [
        DayTimes(
            date.fromisoformat(g["group"]), g["received"], g["contact_hours_p50"], g["contact_hours_p90"]
        )
        for g in groups
        if g["group"] and g["contact_hours_p50"] is not None
    ]


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
                "" if row.composite is None else f"{row.composite:.2f}",
            ]
        )
    return out.getvalue()


def _fmt(rate: float | None) -> str:
    return "" if rate is None else f"{rate:.4f}"
