"""Reports over many cases: the rates report (grouped by jurisdiction) and the overdue report.

N cases (1,000,000; 20,000 with --quick; JIESU_BENCH_REPORTS_N overrides) spread over the 2 years before
now and 300 communities, bulk-inserted with plain SQL (executemany on SQLite, COPY on PostgreSQL; not
through the API), then 20 calls of each report through the HTTP API of a served jiesu (admin token), on
SQLite and on PostgreSQL (the database at the URL is recreated; JIESU_BENCH_REPORTS_ON=postgres for one
of them; JIESU_BENCH_REPORTS_CALLS for fewer calls). The first report after loading builds the reports'
copy of the cases (jiesu_report_case); it is timed on its own.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import os
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from benchmarks._server import fresh_database, login, server
from jiesu import db
from jiesu.audit.rights import EXPORTED_EVENT_COLUMNS
from jiesu.cases.service import RECORDED_COLUMNS

# the served app reads the real clock: the cases lie in the 2 years before the run
NOW = datetime.now(UTC).replace(microsecond=0)
SPAN = timedelta(days=730)
STREETS, COMMUNITIES = 10, 300
CALLS = int(os.environ.get("JIESU_BENCH_REPORTS_CALLS") or 20)
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


def filings(n: int) -> Iterator[tuple[Any, ...]]:
    """Each case's events as far as the reports read them: one event recording the report columns of
    the case (the reports' copy is built from the events' changes; the chain is not the point here)."""
    at = {column: CASE_COLUMNS.index(column) for column in RECORDED_COLUMNS}
    for case_id, case in enumerate(cases(n), start=1):
        changes = {
            c: case[i].isoformat() if isinstance(case[i], datetime) else case[i] for c, i in at.items()
        }
        created = case[CASE_COLUMNS.index("received_at")].isoformat()
        yield (
            case_id,
            case_id,
            "bench",
            "resident",
            "file",
            None,
            "triage",
            "{}",
            created,
            "",
            "",
            json.dumps(changes),
        )


def returned_orders(n: int, seed: int = 5) -> Iterator[tuple[Any, ...]]:
    """2% of cases carry a return_order event after their filing."""
    rng = random.Random(seed)
    for seq, case_id in enumerate(sorted(rng.sample(range(1, n + 1), n // 50)), start=n + 1):
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
            "{}",
        )


EVENT_COLUMNS = [*EXPORTED_EVENT_COLUMNS, "prev_hash", "hash", "changes"]


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
            f"INSERT INTO jiesu_case_event ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})",
            itertools.chain(filings(n), returned_orders(n)),
        )
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("ANALYZE")


async def load_postgres(url: str, n: int) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.copy_records_to_table(
            "jiesu_jurisdiction",
            records=jurisdictions(),
            columns=["code", "name", "level", "parent_code", "path"],
        )
        await connection.copy_records_to_table("jiesu_case", records=cases(n), columns=CASE_COLUMNS)
        await connection.copy_records_to_table(
            "jiesu_case_event", records=itertools.chain(filings(n), returned_orders(n)), columns=EVENT_COLUMNS
        )
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()


ADMIN_PASSWORD = "bench-admin-password"


def report_calls(now: datetime) -> list[tuple[str, str, dict[str, str]]]:
    window = {"from": (now - SPAN).isoformat(), "to": now.isoformat(), "group_by": "jurisdiction"}
    month = {**window, "from": (now - timedelta(days=30)).isoformat()}
    street = {**window, "jurisdiction": "S3"}
    return [
        ("rates, 2 years, by jurisdiction", "/api/reports/rates", window),
        ("rates, last 30 days, by jurisdiction", "/api/reports/rates", month),
        ("rates, 2 years, one street, by jurisdiction", "/api/reports/rates", street),
        ("overdue, city-wide", "/api/reports/overdue", {}),
        ("overdue, one street", "/api/reports/overdue", {"jurisdiction": "S3"}),
    ]


def percentile(samples: list[float], p: float) -> float:
    """Nearest rank: with 20 samples p99 is the slowest call."""
    ordered = sorted(samples)
    return ordered[max(0, min(len(ordered), math.ceil(p * len(ordered))) - 1)]


def measure(base: str, label: str) -> None:
    token = login(base, "admin", ADMIN_PASSWORD)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:

        def call(path: str, params: dict[str, str]) -> float:
            started = time.perf_counter()
            response = client.get(path, params=params)
            elapsed = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            return elapsed

        calls = report_calls(NOW)
        first = call(calls[0][1], calls[0][2])
        print(f" {label}: first report after loading (builds the reports' copy) {first / 1000:.1f} s")
        for name, path, params in calls:
            call(path, params)  # warm the caches once
            samples = [call(path, params) for _ in range(CALLS)]
            p50, p99 = statistics.median(samples), percentile(samples, 0.99)
            print(f"  {name:<52} p50 {p50:8.1f} ms   p99 {p99:8.1f} ms", flush=True)


async def migrate(url: str) -> None:
    await db.start(url, migrate=True)
    await db.stop()


def bench(kind: str, n: int, pg_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = fresh_database(kind, pg_url, Path(folder))
        asyncio.run(migrate(url))
        started = time.perf_counter()
        if kind == "sqlite":
            load_sqlite(db.sqlite_path(url), n)
        else:
            asyncio.run(load_postgres(url, n))
        print(f" {kind}: loaded {n:,} cases in {time.perf_counter() - started:.1f} s", flush=True)
        os.environ["JIESU_ADMIN_PASSWORD"] = ADMIN_PASSWORD
        os.environ["JIESU_SWEEP_INTERVAL"] = "0"  # no sweeper passes between the timed calls
        with server(url, Path(folder), demo=False) as served:
            measure(served.base, kind)


def run(args: Any) -> None:
    n = int(os.environ.get("JIESU_BENCH_REPORTS_N") or (20_000 if args.quick else 1_000_000))
    print(f"{n:,} cases over 2 years and {COMMUNITIES} communities; {CALLS} calls each through the HTTP API")
    backends = os.environ.get("JIESU_BENCH_REPORTS_ON", "sqlite,postgres").split(",")
    if "sqlite" in backends:
        bench("sqlite", n, None)
    pg_url = args.pg_url or os.environ.get("JIESU_BENCH_PG_URL")
    if "postgres" not in backends:
        return
    if pg_url:
        bench("postgres", n, pg_url)
    else:
        print(" postgres: skipped (no --pg-url or JIESU_BENCH_PG_URL)")
