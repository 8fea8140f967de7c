"""Direct database access for tests that must reach under the API: tamper with the audit chain
(bypassing the append-only triggers) or plant rows another feature would write."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import Any

import asyncpg

from jiesu.db import is_postgres_url, sqlite_path

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
