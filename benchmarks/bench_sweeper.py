"""The SLA sweeper's pass over N open cases of which 1% are due (seconds, queries issued), and intake with
routing (requests/s, p99), on SQLite and PostgreSQL.

Default N = 1,000,000 (``--quick``: 20,000; JIESU_BENCH_SWEEPER_N to choose); the intake part sends
JIESU_BENCH_INTAKE_REQUESTS requests (3000, ``--quick`` 300; 0 skips it). PostgreSQL runs when --pg-url
or JIESU_BENCH_PG_URL is set; its public schema is dropped and recreated, so point it at a database used
for nothing else. Each due case has just passed its deadline: one escalation (a case change, its event,
two outbox messages) and its timer's next step.
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
                capacity=100_000,  # the intake runs file thousands of open cases on three workers
                created_at=now,
            )
        )


# Every row from one INSERT … SELECT over a generated series of numbers n (a recursive CTE on SQLite,
# generate_series on PostgreSQL): every ``due_every``-th case is due, received 2 days and 1 hour ago with
# a 2-day deadline (its deadline passed since the sweeper's last pass, so it takes one escalation);
# the others were received an hour ago with 7 days to go. Placeholders: :name.
CASE_SELECT = (
    "SELECT {tracking}, 'complaint', 'neighbour_noise', 't', 'd', 'a', 'C1', '/D1/S1/C1/', 'normal', "
    "'ordinary', 'mediation', 1, 'w' || (n % 3 + 1), 'web', 'n', 'p', "
    "CASE WHEN n % :every = 0 THEN :old_received ELSE :new_received END, "
    "CASE WHEN n % :every = 0 THEN :old_received ELSE :new_received END, "
    "CASE WHEN n % :every = 0 THEN :old_response ELSE :new_response END, "
    "CASE WHEN n % :every = 0 THEN :old_resolution ELSE :new_resolution END, "
    "CASE WHEN n % :every = 0 THEN :old_resolution ELSE :new_resolution END, "
    "CASE WHEN n % :every = 0 THEN :old_received ELSE :new_received END, 0, 0 "
)
SQLITE_SEED = (
    f"WITH RECURSIVE series(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM series WHERE n + 1 < :count) "
    f"INSERT INTO jiesu_case ({CASE_COLUMNS}) "
    + CASE_SELECT.format(tracking="printf('B%09d', n)")
    + "FROM series"
)
PG_SEED = (
    f"INSERT INTO jiesu_case ({CASE_COLUMNS}) "
    + CASE_SELECT.format(tracking="'B' || lpad(n::text, 9, '0')")
    + "FROM generate_series(0, :count - 1) AS n"
)
PG_TYPES = {"count": "int", "every": "int"}


def seed_values(n: int, now: datetime, due_every: int) -> dict[str, Any]:
    old, new = now - timedelta(days=2, hours=1), now - timedelta(hours=1)
    return {
        "count": n,
        "every": due_every,
        "old_received": old,
        "new_received": new,
        "old_response": old + timedelta(hours=24),
        "new_response": new + timedelta(hours=24),
        "old_resolution": old + timedelta(days=2),
        "new_resolution": new + timedelta(days=7),
    }


def numbered(sql: str, values: dict[str, Any]) -> tuple[str, list[Any]]:
    """:name placeholders as PostgreSQL's typed $1, $2 …, and the arguments in that order."""
    names = list(values)
    for index, name in enumerate(names, start=1):
        sql = sql.replace(f":{name}", f"${index}::{PG_TYPES.get(name, 'timestamptz')}")
    return sql, [values[name] for name in names]


async def seed_cases(n: int, now: datetime, due_every: int) -> None:
    """N open cases in mediation (already responded) and their timers, generated by the database."""
    engine = db.current_engine()
    values = seed_values(n, now, due_every)
    if db.is_sqlite():
        import sqlite3

        connection = sqlite3.connect(engine.path)  # type: ignore[attr-defined]
        with connection:  # datetimes go in through Piccolo's sqlite3 adapters, as the app writes them
            connection.execute(SQLITE_SEED, values)
        connection.close()
    else:
        sql, arguments = numbered(PG_SEED, values)
        async with engine.pool.acquire() as connection:  # type: ignore[attr-defined]
            await connection.execute(sql, *arguments)
    # One timer per case: the resolution clock, reminder already sent, next step at the deadline.
    await engine.run_ddl(
        "INSERT INTO jiesu_sla_timer (case_id, clock, started_at, due_at, stage, next_at, escalations) "
        "SELECT id, 'resolution', received_at, resolution_due, 'due', resolution_due, 0 FROM jiesu_case"
    )
    if not db.is_sqlite():
        await engine.run_ddl("ANALYZE")


async def measure_sweep(settings: Settings, n: int) -> float:
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
        return elapsed
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
        anonymous_intake_per_minute=0,  # every request comes from one address here
        log_level="WARNING",
    )


def run(args: Any) -> None:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    n = int(os.environ.get("JIESU_BENCH_SWEEPER_N", 20_000 if args.quick else 1_000_000))
    intake = int(os.environ.get("JIESU_BENCH_INTAKE_REQUESTS", 300 if args.quick else 3000))
    pg_url = args.pg_url or os.environ.get("JIESU_BENCH_PG_URL")
    with tempfile.TemporaryDirectory() as folder:
        print("SQLite:")
        sqlite_sweep = asyncio.run(
            measure_sweep(settings_for(f"sqlite:///{folder}/sweep.db", Path(folder)), n)
        )
        for routing in (False, True) if intake else ():
            url = f"sqlite:///{folder}/intake-{routing}.db"
            asyncio.run(measure_intake(settings_for(url, Path(folder)), intake, routing))
        if pg_url:
            print("PostgreSQL:")
            asyncio.run(ensure_pg_database(pg_url))
            pg_sweep = asyncio.run(measure_sweep(settings_for(pg_url, Path(folder)), n))
            print(f"  sweep time SQLite / PostgreSQL: {sqlite_sweep / pg_sweep:.2f}")
            for routing in (False, True) if intake else ():
                asyncio.run(ensure_pg_database(pg_url))
                asyncio.run(measure_intake(settings_for(pg_url, Path(folder)), intake, routing))
