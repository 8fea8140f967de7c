"""Prometheus metrics: request latency by route (in process), and case figures read from the database.

The case figures are read at scrape time, so every app process answers the same numbers. With several
workers, set PROMETHEUS_MULTIPROC_DIR and the request histograms of all workers are summed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from piccolo.query.functions.aggregate import Count
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from jiesu.cases.queries import overdue_at
from jiesu.cases.tables import Case
from jiesu.config import prometheus_multiproc_dir_from_env
from jiesu.notify.tables import OutboxMessage
from jiesu.sla.deadlines import running_clock
from jiesu.workflow import STATES

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LEVEL_BY_DEPTH = {1: "district", 2: "street", 3: "community", 4: "grid"}


class HttpMetrics:
    """Request counters and latency histograms, one registry per app (tests build many apps)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "jiesu_http_request_duration_seconds",
            "Time to answer a request, by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "jiesu_http_requests",
            "Requests answered, by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method, route).observe(seconds)
        self.requests.labels(method, route, str(status)).inc()

    def exposition(self) -> bytes:
        multiproc_dir = prometheus_multiproc_dir_from_env()
        if not multiproc_dir:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        MultiProcessCollector(merged, path=multiproc_dir)
        return generate_latest(merged)


class _Snapshot(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def handling_level(jurisdiction_path: str | None, escalation_level: str | None) -> str:
    """Who holds an overdue case: the escalated level, else the level of its jurisdiction."""
    if escalation_level:
        return "department" if escalation_level.startswith("department:") else escalation_level
    if not jurisdiction_path:
        return "unassigned"
    depth = len([part for part in jurisdiction_path.split("/") if part])
    return LEVEL_BY_DEPTH.get(depth, "community")


async def case_families(states: Iterable[str], now: datetime) -> list[Metric]:
    by_state = GaugeMetricFamily("jiesu_cases", "Cases by state", labels=["state"])
    counts = {state: 0 for state in states}
    for row in await Case.select(Case.state, Count()).group_by(Case.state):
        counts[row["state"]] = row["count"]
    for state, count in counts.items():
        by_state.add_metric([state], count)

    overdue = GaugeMetricFamily(
        "jiesu_cases_overdue",
        "Open cases past their current deadline, by handling level and the clock that ran out",
        labels=["level", "clock"],
    )
    rows = (
        await Case.select(Case.jurisdiction_path, Case.escalation_level, Case.state, Case.responded_at)
        .where(overdue_at(now))
        .limit(100_000)
    )
    tally: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (
            handling_level(row["jurisdiction_path"], row["escalation_level"]),
            running_clock(row["state"], row["responded_at"]) or "",
        )
        tally[key] = tally.get(key, 0) + 1
    for (level, clock), count in sorted(tally.items()):
        overdue.add_metric([level, clock], count)
    return [by_state, overdue, *await outbox_families(now), await sweeper_family(now)]


async def outbox_families(now: datetime) -> list[Metric]:
    backlog = GaugeMetricFamily("jiesu_outbox_backlog", "Outbox messages not yet delivered")
    oldest = GaugeMetricFamily(
        "jiesu_outbox_oldest_pending_seconds", "Age of the oldest undelivered outbox message"
    )
    pending = OutboxMessage.status == "pending"
    backlog.add_metric([], await OutboxMessage.count().where(pending))
    first = (
        await OutboxMessage.select(OutboxMessage.created_at)
        .where(pending)
        .order_by(OutboxMessage.created_at)
        .first()
    )
    oldest.add_metric([], max((now - first["created_at"]).total_seconds(), 0.0) if first else 0.0)
    return [backlog, oldest]


async def sweeper_lag_seconds(now: datetime) -> float:
    """How far behind the sweeper is, measured by its work rather than by its own bookkeeping.

    Closing feedback that nobody answered is the sweeper's job alone (close_unrated, role system): the
    longest such case has waited past its window is how late the sweeper runs. 0 when it keeps up.
    """
    first = (
        await Case.select(Case.feedback_due)
        .where((Case.state == STATES.feedback) & (Case.feedback_due < now))
        .order_by(Case.feedback_due)
        .first()
    )
    return max((now - first["feedback_due"]).total_seconds(), 0.0) if first else 0.0


async def sweeper_family(now: datetime) -> Metric:
    lag = GaugeMetricFamily(
        "jiesu_sweeper_lag_seconds", "How long the oldest unanswered feedback has waited past its window"
    )
    lag.add_metric([], await sweeper_lag_seconds(now))
    return lag


async def exposition(http: HttpMetrics, states: Iterable[str], now: datetime) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(await case_families(states, now)))
    return http.exposition() + generate_latest(registry)


def labels_for(scope: dict[str, Any]) -> tuple[str, str]:
    return scope.get("method", "GET"), scope.get("path_template") or "unmatched"
