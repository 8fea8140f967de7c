"""Reports over many cases: the rates report (grouped by jurisdiction) and the overdue report.

N cases (1,000,000; 20,000 with --quick; JIESU_BENCH_REPORTS_N overrides) spread over 2 years and
300 communities, bulk-inserted with plain SQL, then 20 calls of each report through ReportService
(the code the API runs), on SQLite and on PostgreSQL (the database at the URL is recreated).
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from piccolo.engine.postgres import PostgresEngine

from benchmarks._server import fresh_database
from jiesu import db
from jiesu.cases.service import CaseService
from jiesu.config import PROJECT_ROOT
from jiesu.reports.config import load_report_settings
from jiesu.reports.service import ReportService
from jiesu.reports.sql import Scope
from jiesu.routing.catalogue import load_catalogue
from jiesu.workflow import load_workflow

NOW = datetime(2026, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
STREETS, COMMUNITIES = 10, 300
CALLS = 20
CATEGORIES = ["neighbour_noise", "neighbour_dispute", "property_management", "parking", "sanitation"]
CASE_COLUMNS = [
    "tracking_no",
    "kind",
    "category",
    "title",
    "description",
    "address",
    "jurisdiction_code",
    "jurisdiction_path",
    "priority",
    "complexity",
    "state",
    "version",
    "assignee",
    "channel",
    "contact_name",
    "contact_phone",
    "received_at",
    "updated_at",
    "response_due",
    "resolution_due",
    "feedback_due",
    "due_at",
    "responded_at",
    "resolved_at",
    "closed_at",
    "outcome",
    "reopen_count",
    "extension_count",
    "filer_resolved",
    "satisfaction",
]


def jurisdictions() -> list[tuple[str, str, str, str | None, str]]:
    rows: list[tuple[str, str, str, str | None, str]] = [("D", "District", "district", None, "/D/")]
    for s in range(STREETS):
        rows.append((f"S{s}", f"Street {s}", "street", "D", f"/D/S{s}/"))
    for c in range(COMMUNITIES):
        street = c % STREETS
        rows.append((f"C{c}", f"Community {c}", "community", f"S{street}", f"/D/S{street}/C{c}/"))
    return rows


def cases(n: int, seed: int = 4) -> Iterator[tuple[Any, ...]]:
    """Plausible cases: 85% answered in time, most resolved in time, 70% of closed cases rated."""
    rng = random.Random(seed)
    # ids grow with the receipt time, as they do when cases are filed
    received_times = sorted((NOW - SPAN * rng.random() for _ in range(n)), reverse=False)
    for i, received in enumerate(received_times):
        urgent = rng.random() < 0.1
        response = timedelta(hours=2 if urgent else 24)
        resolution = timedelta(hours=24) if urgent else timedelta(days=7)
        community = rng.randrange(COMMUNITIES)
        street = community % STREETS
        age = NOW - received
        contact = response * rng.uniform(0.05, 0.9 if rng.random() < 0.85 else 2.0)
        resolve = resolution * rng.uniform(0.1, 0.95 if rng.random() < 0.8 else 1.6)
        responded = received + contact if contact < age else None
        resolved = received + resolve if responded and resolve < age - timedelta(days=1) else None
        closed = resolved + timedelta(hours=rng.uniform(1, 60)) if resolved else None
        rated = closed is not None and rng.random() < 0.7
        if closed:
            state, due = "closed", None
        elif responded:
            state, due = "mediation", received + resolution
        else:
            state, due = "triage", received + response
        yield (
            f"B{i:09d}",
            "complaint",
            rng.choice(CATEGORIES),
            "Benchmark case",
            "Generated for the reports benchmark.",
            f"Building {rng.randrange(200)}, Lane {community}",
            f"C{community}",
            f"/D/S{street}/C{community}/",
            "urgent" if urgent else "normal",
            "ordinary",
            state,
            1,
            f"w{community}" if responded else None,
            "web",
            "Bench Filer",
            "13800000000",
            received,
            closed or responded or received,
            received + response,
            received + resolution,
            None,
            due,
            responded,
            resolved,
            closed,
            "resolved" if closed else None,
            1 if rng.random() < 0.03 else 0,
            0,
            (rng.random() < 0.85) if rated else None,
            rng.choice((5, 5, 5, 4, 4, 3, 2, 1)) if rated else None,
        )


def returned_orders(n: int, seed: int = 5) -> Iterator[tuple[Any, ...]]:
    """2% of cases carry a return_order event (the chain is not the point here)."""
    rng = random.Random(seed)
    for seq, case_id in enumerate(sorted(rng.sample(range(1, n + 1), n // 50)), start=1):
        yield (
            seq,
            case_id,
            "w",
            "worker",
            "return_order",
            "mediation",
            "triage",
            "{}",
            NOW.isoformat(),
            "",
            "",
        )


EVENT_COLUMNS = [
    "seq",
    "case_id",
    "actor",
    "actor_role",
    "action",
    "from_state",
    "to_state",
    "fields",
    "created_at",
    "prev_hash",
    "hash",
]


def sqlite_value(value: Any) -> Any:
    """The text Piccolo stores for a timestamptz on SQLite (UTC, str())."""
    return str(value.astimezone(UTC)) if isinstance(value, datetime) else value


def load_sqlite(path: Path, n: int) -> None:
    with closing(sqlite3.connect(path)) as connection, connection:
        connection.executemany(
            "INSERT INTO jiesu_jurisdiction (code, name, level, parent_code, path) VALUES (?, ?, ?, ?, ?)",
            jurisdictions(),
        )
        marks = ", ".join("?" * len(CASE_COLUMNS))
        connection.executemany(
            f"INSERT INTO jiesu_case ({', '.join(CASE_COLUMNS)}) VALUES ({marks})",
            ([sqlite_value(v) for v in row] for row in cases(n)),
        )
        marks = ", ".join("?" * len(EVENT_COLUMNS))
        connection.executemany(
            f"INSERT INTO jiesu_case_event ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})", returned_orders(n)
        )
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("ANALYZE")


async def load_postgres(engine: PostgresEngine, n: int) -> None:
    import asyncpg

    connection = await asyncpg.connect(**engine.config)
    try:
        await connection.copy_records_to_table(
            "jiesu_jurisdiction",
            records=jurisdictions(),
            columns=["code", "name", "level", "parent_code", "path"],
        )
        await connection.copy_records_to_table("jiesu_case", records=cases(n), columns=CASE_COLUMNS)
        await connection.copy_records_to_table(
            "jiesu_case_event", records=returned_orders(n), columns=EVENT_COLUMNS
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


def report_service() -> ReportService:
    workflows = PROJECT_ROOT / "workflows"
    cases_service = CaseService(
        load_workflow(workflows / "case.yaml"),
        load_catalogue(workflows / "categories.yaml"),
        "bench",
        lambda: NOW,
    )
    return ReportService(load_report_settings(workflows / "reports.yaml"), cases_service)


async def timed(label: str, call: Callable[[], Awaitable[Any]]) -> None:
    await call()  # warm the caches once
    samples = []
    for _ in range(CALLS):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p99 = samples[min(len(samples) - 1, int(0.99 * len(samples)))]
    print(f"  {label:<52} p50 {statistics.median(samples):8.1f} ms   p99 {p99:8.1f} ms", flush=True)


async def measure(backend: str) -> None:
    reports = report_service()
    street = Scope(path="/D/S3/")
    month = NOW - timedelta(days=30)
    print(f" {backend}:")
    await timed(
        "rates, 2 years, by jurisdiction",
        lambda: reports.rates(Scope(), NOW - SPAN, NOW, None, "jurisdiction"),
    )
    await timed(
        "rates, last 30 days, by jurisdiction",
        lambda: reports.rates(Scope(), month, NOW, None, "jurisdiction"),
    )
    await timed(
        "rates, 2 years, one street, by jurisdiction",
        lambda: reports.rates(street, NOW - SPAN, NOW, None, "jurisdiction"),
    )
    await timed("overdue, city-wide", lambda: reports.overdue(Scope()))
    await timed("overdue, one street", lambda: reports.overdue(street))


async def bench_sqlite(n: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        await db.start(f"sqlite:///{path}", migrate=True)
        started = time.perf_counter()
        load_sqlite(path, n)
        print(f" sqlite: loaded {n:,} cases in {time.perf_counter() - started:.1f} s")
        await measure("sqlite")
        await db.stop()


async def bench_postgres(url: str, n: int) -> None:
    engine = PostgresEngine(config={"dsn": fresh_database("postgres", url, Path("."))})
    db.use_engine(engine)
    await engine.start_connection_pool(min_size=1, max_size=4)
    try:
        await db.run_migrations()
        started = time.perf_counter()
        await load_postgres(engine, n)
        print(f" postgres: loaded {n:,} cases in {time.perf_counter() - started:.1f} s")
        await measure("postgres")
    finally:
        await engine.close_connection_pool()


def run(args: Any) -> None:
    n = int(os.environ.get("JIESU_BENCH_REPORTS_N") or (20_000 if args.quick else 1_000_000))
    print(f"{n:,} cases over 2 years and {COMMUNITIES} communities; {CALLS} calls each")
    asyncio.run(bench_sqlite(n))
    pg_url = args.pg_url or os.environ.get("JIESU_BENCH_PG_URL")
    if pg_url:
        asyncio.run(bench_postgres(pg_url, n))
    else:
        print(" postgres: skipped (no --pg-url or JIESU_BENCH_PG_URL)")
