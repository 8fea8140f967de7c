"""The SLA sweeper's pass over N open cases of which 1% are due (seconds, queries issued), and intake with
routing (requests/s, p99), on SQLite and PostgreSQL.

Default N = 1,000,000; ``--quick`` uses 20,000. PostgreSQL runs when --pg-url or JIESU_BENCH_PG_URL is set;
its public schema is dropped and recreated, so point it at a database used for nothing else.
"""

from __future__ import annotations

import asyncio
import logging
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from jiesu import db
from jiesu.accounts.tables import Jurisdiction, User
from jiesu.app import create_app
from jiesu.config import Settings

CASE_COLUMNS = (
    "tracking_no, kind, category, title, description, address, jurisdiction_code, jurisdiction_path, "
    "priority, complexity, state, version, assignee, channel, contact_name, contact_phone, "
    "received_at, updated_at, response_due, resolution_due, due_at, responded_at, "
    "reopen_count, extension_count"
)
CHUNK = 20_000


async def ensure_pg_database(url: str) -> None:
    """Create the database when missing, then give it an empty public schema."""
    base, _, name = url.rpartition("/")
    try:
        connection = await asyncpg.connect(url)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(f"{base}/postgres")
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        connection = await asyncpg.connect(url)
    await connection.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    await connection.close()


async def seed_world() -> None:
    for code, level, parent, path in (
        ("D1", "district", None, "/D1/"),
        ("S1", "street", "D1", "/D1/S1/"),
        ("C1", "community", "S1", "/D1/S1/C1/"),
    ):
        await Jurisdiction.insert(
            Jurisdiction(code=code, name=code, level=level, parent_code=parent, path=path)
        )
    now = datetime.now(UTC)
    for username, role, home, skills in (
        ("disp", "dispatcher", "S1", "[]"),
        ("w1", "worker", "C1", '["mediation"]'),
        ("w2", "worker", "C1", '["mediation"]'),
        ("w3", "worker", "C1", '["mediation"]'),
    ):
        await User.insert(
            User(
                username=username,
                password_hash="x",
                role=role,
                display_name=username,
                jurisdiction_code=home,
                categories=skills,
                capacity=500,
                created_at=now,
            )
        )


def case_rows(start: int, stop: int, now: datetime, due_every: int) -> list[tuple[Any, ...]]:
    rows = []
    for n in range(start, stop):
        overdue = n % due_every == 0
        received = now - timedelta(days=3) if overdue else now - timedelta(hours=1)
        resolution_due = received + timedelta(days=2 if overdue else 7)
        rows.append(
            (
                f"B{n:09d}",
                "complaint",
                "neighbour_noise",
                "t",
                "d",
                "a",
                "C1",
                "/D1/S1/C1/",
                "normal",
                "ordinary",
                "mediation",
                1,
                f"w{n % 3 + 1}",
                "web",
                "n",
                "p",
                received,
                received,
                received + timedelta(hours=24),
                resolution_due,
                resolution_due,
                received,
                0,
                0,
            )
        )
    return rows


async def seed_cases(n: int, now: datetime, due_every: int) -> None:
    """N open cases in mediation (already responded) and their timers; every ``due_every``-th is overdue."""
    engine = db.current_engine()
    for start in range(0, n, CHUNK):
        rows = case_rows(start, min(n, start + CHUNK), now, due_every)
        if db.is_sqlite():
            import sqlite3

            connection = sqlite3.connect(engine.path)  # type: ignore[attr-defined]
            with connection:
                connection.executemany(
                    f"INSERT INTO jiesu_case ({CASE_COLUMNS}) VALUES ({', '.join(['?'] * 24)})", rows
                )
            connection.close()
        else:
            pool = engine.pool  # type: ignore[attr-defined]
            async with pool.acquire() as connection:
                await connection.copy_records_to_table(
                    "jiesu_case", records=rows, columns=[c.strip() for c in CASE_COLUMNS.split(",")]
                )
    # One timer per case: the resolution clock, reminder already sent, next step at the deadline.
    await engine.run_ddl(
        "INSERT INTO jiesu_sla_timer (case_id, clock, started_at, due_at, stage, next_at, escalations) "
        "SELECT id, 'resolution', received_at, resolution_due, 'due', resolution_due, 0 FROM jiesu_case"
    )
    if not db.is_sqlite():
        await engine.run_ddl("ANALYZE")


async def measure_sweep(settings: Settings, n: int) -> None:
    now = datetime.now(UTC)
    app = create_app(settings)
    await db.start(settings.database_url, migrate=True)
    try:
        await seed_world()
        started = time.perf_counter()
        await seed_cases(n, now, due_every=100)
        seeded = time.perf_counter() - started
        engine = db.current_engine()
        before = engine.query_id
        started = time.perf_counter()
        report = await app.state.sweeper.sweep()
        elapsed = time.perf_counter() - started
        queries = engine.query_id - before
        print(
            f"  sweep over {n:,} open cases ({report.claimed:,} due): {elapsed:.2f} s, "
            f"{queries:,} queries ({queries / max(report.claimed, 1):.1f} per due case), "
            f"escalated {report.escalated:,}  [seeding took {seeded:.1f} s]"
        )
        before = engine.query_id
        started = time.perf_counter()
        idle = await app.state.sweeper.sweep()
        print(
            f"  next pass, nothing due: {time.perf_counter() - started:.3f} s, "
            f"{engine.query_id - before} queries, claimed {idle.claimed}"
        )
    finally:
        await db.stop()


async def measure_intake(settings: Settings, requests: int, routing: bool, concurrency: int = 16) -> None:
    """POST /api/cases in process (no network); with routing every case is accepted and dispatched,
    without it (the lifecycle's intake) every case is accepted and waits in triage."""
    app = create_app(settings)
    if not routing:
        app.state.cases.router = None
    await db.start(settings.database_url, migrate=True)
    try:
        await seed_world()
        body = {
            "kind": "complaint",
            "category": "neighbour_noise",
            "title": "Noise",
            "description": "Music at night",
            "address": "Building 3",
            "jurisdiction_code": "C1",
            "contact": {"name": "A B", "phone": "13812345678"},
        }
        latencies: list[float] = []
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            queue: asyncio.Queue[int] = asyncio.Queue()
            for n in range(requests):
                queue.put_nowait(n)

            async def worker() -> None:
                while not queue.empty():
                    queue.get_nowait()
                    started = time.perf_counter()
                    response = await client.post("/api/cases", json=body)
                    latencies.append(time.perf_counter() - started)
                    assert response.status_code == 201, response.text
                    assert bool(response.json()["assignee"]) is routing, response.text

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            elapsed = time.perf_counter() - started
        latencies.sort()
        p99 = latencies[int(len(latencies) * 0.99) - 1]
        print(
            f"  intake {'with' if routing else 'without'} routing: {requests} requests, "
            f"concurrency {concurrency}: "
            f"{requests / elapsed:.0f} req/s, p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms"
        )
    finally:
        await db.stop()


def settings_for(url: str, folder: Path) -> Settings:
    return Settings.from_env(
        database_url=url,
        var_dir=folder,
        secret_key="bench-secret-key-bench-secret-key-0123456789",
        password_hash_profile="fast",
        sweep_interval_seconds=0,
        delivery_interval_seconds=0,
        webhook_url=None,
    )


def run(args: Any) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    n = 20_000 if args.quick else 1_000_000
    intake = 300 if args.quick else 3000
    pg_url = args.pg_url or os.environ.get("JIESU_BENCH_PG_URL")
    with tempfile.TemporaryDirectory() as folder:
        print("SQLite:")
        asyncio.run(measure_sweep(settings_for(f"sqlite:///{folder}/sweep.db", Path(folder)), n))
        for routing in (False, True):
            url = f"sqlite:///{folder}/intake-{routing}.db"
            asyncio.run(measure_intake(settings_for(url, Path(folder)), intake, routing))
        if pg_url:
            print("PostgreSQL:")
            asyncio.run(ensure_pg_database(pg_url))
            asyncio.run(measure_sweep(settings_for(pg_url, Path(folder)), n))
            for routing in (False, True):
                asyncio.run(ensure_pg_database(pg_url))
                asyncio.run(measure_intake(settings_for(pg_url, Path(folder)), intake, routing))
