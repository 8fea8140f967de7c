"""Engine selection (SQLite by default, PostgreSQL by URL), startup pragmas, migrations.

Piccolo finds its engine through ``jiesu.piccolo_conf``, which asks this module for the engine in use,
so the app, the CLI, Piccolo's migration runner and the tests all share one switch: ``use_engine``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, TransactionType

os.environ.setdefault("PICCOLO_CONF", "jiesu.piccolo_conf")
# aiosqlite logs every statement WITH its parameters (names, phone numbers) at DEBUG: never below INFO,
# whatever level the root logger is given.
logging.getLogger("aiosqlite").setLevel(logging.INFO)

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0

_engine: Engine | None = None


def sqlite_path(url: str) -> Path:
    """Path of an SQLite URL: sqlite:///relative/or/absolute.db, or a plain path."""
    if not url.startswith("sqlite:"):
        return Path(url)
    # SQLAlchemy's convention: sqlite:///relative/x.db, sqlite:////absolute/x.db
    path = unquote(urlparse(url).path)
    return Path(path[1:] if path.startswith("/") else path)


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def engine_from_url(url: str) -> Engine:
    if is_postgres_url(url):
        return PostgresEngine(config={"dsn": url})
    path = sqlite_path(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    return SQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)


def all_tables() -> list[type]:
    """jiesu's tables and Piccolo's own table of applied migrations."""
    from piccolo.apps.migrations.tables import Migration
    from piccolo.conf.apps import Finder

    return [*Finder().get_table_classes(), Migration]


def use_engine(engine: Engine) -> Engine:
    """Make ``engine`` the one every table, query and migration uses."""
    global _engine
    _engine = engine
    for table in all_tables():
        table._meta.db = engine
    return engine


def current_engine() -> Engine:
    if _engine is None:
        from jiesu.config import database_url_from_env

        use_engine(engine_from_url(database_url_from_env()))
    assert _engine is not None
    return _engine


def is_sqlite() -> bool:
    return current_engine().engine_type == "sqlite"


def write_transaction():  # type: ignore[no-untyped-def]
    """One transaction per business operation.

    On SQLite it begins IMMEDIATE, so a transaction that reads then writes waits for the busy timeout
    instead of failing with "database is locked" when it upgrades its lock.
    """
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        return engine.transaction(transaction_type=TransactionType.immediate)
    return engine.transaction()


def prepare_sqlite_file(path: Path) -> None:
    """WAL is a property of the file: set it once at start, not per connection.

    synchronous stays at SQLite's default FULL: a commit that answered 201 survives a power loss.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


async def run_migrations() -> str:
    """Apply every pending Piccolo migration of every jiesu app; returns Piccolo's report."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"migrations failed: {result.message}\n{output.getvalue()}")
    return output.getvalue()


async def start(url: str, migrate: bool = True) -> Engine:
    engine = engine_from_url(url)
    if isinstance(engine, SQLiteEngine):
        prepare_sqlite_file(Path(engine.path))
    use_engine(engine)
    if isinstance(engine, PostgresEngine):
        await engine.start_connection_pool(min_size=1, max_size=20)
    if migrate:
        await run_migrations()
    return engine


async def stop() -> None:
    engine = _engine
    if isinstance(engine, PostgresEngine):
        await engine.close_connection_pool()
