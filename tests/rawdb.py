"""Direct database access for tests that must reach under the API: tamper with the audit chain
(bypassing the append-only triggers) or plant rows another feature would write."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from typing import Any

import asyncpg

from jiesu.db import current_engine, is_postgres_url, sqlite_path

SQLITE_TRIGGERS = [
    "jiesu_case_event_no_update",
    "jiesu_case_event_no_delete",
    "jiesu_audit_head_forward",
    "jiesu_audit_head_no_delete",
]


async def execute(url: str, *statements: str, bypass_triggers: bool = False) -> list[Any]:
    """Run ``statements`` in one transaction; returns the rows of the last one."""
    if is_postgres_url(url):
        connection = await asyncpg.connect(url)
        try:
            async with connection.transaction():
                if bypass_triggers:
                    await connection.execute("SET LOCAL session_replication_role = replica")
                rows: list[Any] = []
                for statement in statements:
                    rows = [tuple(r) for r in await connection.fetch(statement)]
                return rows
        finally:
            await connection.close()
    with closing(sqlite3.connect(sqlite_path(url), timeout=30)) as connection, connection:
        if bypass_triggers:
            for name in SQLITE_TRIGGERS:
                connection.execute(f"DROP TRIGGER IF EXISTS {name}")
        rows = []
        for statement in statements:
            rows = connection.execute(statement).fetchall()
        return rows


@asynccontextmanager
async def append_only_bypassed() -> AsyncIterator[None]:
    """Inside the block, the app's own engine may UPDATE and DELETE events (to simulate tampering).

    SQLite: the triggers are dropped for good (the test database is thrown away); PostgreSQL: the
    block runs in one transaction with triggers disabled (session_replication_role = replica).
    """
    engine = current_engine()
    if engine.engine_type == "sqlite":
        for name in SQLITE_TRIGGERS:
            await engine.run_ddl(f"DROP TRIGGER IF EXISTS {name}")
        yield
        return
    async with engine.transaction():
        await engine.run_ddl("SET LOCAL session_replication_role = replica")
        yield
