"""ReportService: the supervision reports, each scoped to the caller and listing its exclusions."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.cases.service import CaseService
from jiesu.reports import exclusions as exclusion_store
from jiesu.reports.config import ReportSettings
from jiesu.reports.rates import GroupBy, RatesQuery, rates_report
from jiesu.reports.sql import Scope, Where, utc
from jiesu.reports.timeline import case_timeline
from jiesu.reports.watch import hotspots_report, open_cases, overdue_report, window


class ReportService:
    def __init__(self, settings: ReportSettings, cases: CaseService) -> None:
        self.settings = settings
        self.cases = cases

    def now(self) -> datetime:
        return utc(self.cases.clock())

    def default_window(self, start: datetime | None, end: datetime | None) -> tuple[datetime, datetime]:
        end = utc(end) if end else self.now()
        start = utc(start) if start else end - timedelta(days=self.settings.default_window_days)
        return start, end

    async def rates(
        self,
        scope: Scope,
        start: datetime,
        end: datetime,
        category: str | None = None,
        group_by: GroupBy | None = None,
    ) -> dict[str, Any]:
        query = RatesQuery(start, end, scope, category, group_by)
        report = await rates_report(query, self.settings.composite_weights, self.now())
        return {
            "from": start,
            "to": end,
            "group_by": group_by,
            "category": category,
            "weights": self.settings.composite_weights.model_dump(),
            **report,
            "exclusions": await exclusion_store.list_exclusions(query.where()),
        }

    async def overdue(self, scope: Scope, within: timedelta | None = None) -> dict[str, Any]:
        now = self.now()
        within = within if within is not None else self.settings.overdue_soon
        report = await overdue_report(scope, now, within, self.settings.overdue_list_limit)
        report["exclusions"] = await exclusion_store.list_exclusions(open_cases(scope, now + within))
        return report

    async def hotspots(self, scope: Scope, days: int | None = None, top: int | None = None) -> dict[str, Any]:
        spots = self.settings.hotspots
        days, top = days or spots.window_days, top or spots.top
        now = self.now()
        report = await hotspots_report(scope, now, days, top, spots.repeat_min)
        both = window(scope, now - timedelta(days=2 * days), now)
        report["exclusions"] = await exclusion_store.list_exclusions(both)
        return report

    async def timeline(self, actor: Principal, case_id: int) -> dict[str, Any]:
        if actor.role == "worker":  # a worker's reports cover their own cases only
            actor = replace(actor, jurisdiction_path=None)
        case = await self.cases.get_visible(actor, case_id)
        return await case_timeline(case, self.cases.workflow.spec.clocks, self.now())

    async def exclude(self, actor: Principal, case_id: int, reason: str) -> dict[str, Any]:
        return await exclusion_store.exclude_case(self.cases, actor, case_id, reason, self.now())

    async def exclusions(self, scope: Scope) -> list[dict[str, Any]]:
        return await exclusion_store.list_exclusions(scope.apply(Where()))
