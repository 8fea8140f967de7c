"""Engine selection (SQLite by default, PostgreSQL by URL), startup pragmas, migrations.

Piccolo finds its engine through ``jiesu.piccolo_conf``, which asks this module for the engine in use,
so the app, the CLI, Piccolo's migration runner and the tests all share one switch: ``use_engine``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import logging
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from piccolo.columns import Column
from piccolo.columns.combination import WhereRaw
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


def is_unique_violation(exc: BaseException) -> bool:
    """A UNIQUE constraint refused the write, on SQLite or PostgreSQL."""
    return isinstance(exc, sqlite3.IntegrityError) or type(exc).__name__ == "UniqueViolationError"


def is_sqlite() -> bool:
    return current_engine().engine_type == "sqlite"


def after_prefix(prefix: str) -> str:
    """The first string in byte (code point) order after every string that starts with ``prefix``."""
    if not prefix:
        raise ValueError("an empty prefix has no range")
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def prefix_range_sql(column_sql: str, prefix: str) -> tuple[str, tuple[str, str]]:
    """``column_sql`` starts with ``prefix``, as a range in byte order: the fragment (two ``{}``
    placeholders) and its arguments. The one way jiesu filters by a jurisdiction path: ``LIKE`` reads
    ``_`` and ``%`` in a code as wildcards and, on SQLite, ignores case; a range does neither, and an
    index can serve it. PostgreSQL compares in byte order only under ``COLLATE "C"``."""
    ordered = column_sql if is_sqlite() else f'{column_sql} COLLATE "C"'
    return f"{ordered} >= {{}} AND {ordered} < {{}}", (prefix, after_prefix(prefix))


def starts_with(column: Column, prefix: str) -> WhereRaw:
    """``prefix_range_sql`` as a Piccolo WHERE clause on ``column``."""
    sql, args = prefix_range_sql(column._meta.get_full_name(with_alias=False), prefix)
    return WhereRaw(sql, *args)


_scratch: ContextVar[dict[str, Any] | None] = ContextVar("jiesu_transaction_scratch", default=None)


def transaction_scratch() -> dict[str, Any]:
    """Per-transaction storage; the ``"before_commit"`` list holds hooks run just before COMMIT."""
    scratch = _scratch.get()
    if scratch is None:
        raise RuntimeError("this must run inside jiesu.db.write_transaction()")
    return scratch


def in_write_transaction() -> bool:
    return _scratch.get() is not None


def before_commit(hook: Callable[[], Awaitable[None]]) -> None:
    hooks = transaction_scratch().setdefault("before_commit", [])
    if hook not in hooks:
        hooks.append(hook)


def after_commit(hook: Callable[[], Awaitable[None]]) -> None:
    """Run ``hook`` once the current operation has committed (not at all when it rolls back): for what
    cannot be rolled back, such as removing a file whose row the operation deletes."""
    transaction_scratch().setdefault("after_commit", []).append(hook)


class GroupCommitWriter:
    """Group commit: write units run one at a time on one open transaction, committed together.

    Each unit (one business operation) runs inside a SAVEPOINT, so a failing unit is rolled back alone.
    When a unit finishes and no other unit is waiting (or the batch is full), the batch commits: one
    fsync for every operation that queued up meanwhile. Callers return only after their commit.
    """

    MAX_BATCH = 256

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = asyncio.Lock()
        self._queued = 0
        self._transaction: Any = None
        self._committed: list[asyncio.Future[None]] = []

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[None]:
        self._queued += 1
        try:
            await self._lock.acquire()
        finally:
            self._queued -= 1
        committed: asyncio.Future[None] | None = None
        try:
            if self._transaction is None:
                self._transaction = await self._begin()
            transaction = self._transaction
            savepoint = await transaction.savepoint("jiesu_unit")
            token = self.engine.current_transaction.set(transaction)
            try:
                yield
            except BaseException:
                await savepoint.rollback_to()
                await savepoint.release()
                raise
            finally:
                self.engine.current_transaction.reset(token)
            await savepoint.release()
            committed = asyncio.get_running_loop().create_future()
            self._committed.append(committed)
        finally:
            try:
                if self._transaction is not None and (
                    self._queued == 0 or len(self._committed) >= self.MAX_BATCH
                ):
                    # Shielded: a cancelled request must not leave the others' commit unfinished.
                    await asyncio.shield(self._commit())
            finally:
                self._lock.release()
        await committed

    async def _begin(self) -> Any:
        engine = self.engine
        if isinstance(engine, SQLiteEngine):
            transaction = engine.transaction(transaction_type=TransactionType.immediate)
            transaction.connection = await transaction.get_connection()
        else:
            transaction = engine.transaction()
            transaction.connection = await transaction.get_connection()
            transaction.transaction = transaction.connection.transaction()
        try:
            await transaction.begin()
        except BaseException:
            await self._release(transaction)
            raise
        return transaction

    async def _commit(self) -> None:
        transaction, waiting = self._transaction, self._committed
        self._transaction, self._committed = None, []
        try:
            if waiting:
                await transaction.commit()
            else:
                await transaction.rollback()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await transaction.rollback()
            for future in waiting:
                future.set_exception(exc)
            waiting = []
        finally:
            await self._release(transaction)
        for future in waiting:
            future.set_result(None)

    async def _release(self, transaction: Any) -> None:
        engine = self.engine
        if isinstance(engine, PostgresEngine) and engine.pool:
            await engine.pool.release(transaction.connection)
        else:
            await transaction.connection.close()


_writer: GroupCommitWriter | None = None


def writer() -> GroupCommitWriter:
    global _writer
    engine = current_engine()
    if _writer is None or _writer.engine is not engine:
        _writer = GroupCommitWriter(engine)
    return _writer


@asynccontextmanager
async def write_transaction() -> AsyncIterator[None]:
    """One business operation, atomic, answered only after its COMMIT (group commit, see above).

    An inner call joins the outer operation. On SQLite the batch begins IMMEDIATE, so another process
    waits for the busy timeout instead of failing with "database is locked". Hooks registered with
    ``before_commit`` run last in the operation: the audit chain appends there, so the chain head is
    locked only for the final statements. Hooks registered with ``after_commit`` run after the COMMIT.
    """
    if _scratch.get() is not None:
        yield
        return
    scratch: dict[str, Any] = {}
    token = _scratch.set(scratch)
    try:
        async with writer().unit():
            yield
            for hook in scratch.get("before_commit", []):
                await hook()
    finally:
        _scratch.reset(token)
    for hook in scratch.get("after_commit", []):
        await hook()


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


# pg_advisory_lock key of the migrations: any 64-bit number no other part of jiesu uses
MIGRATION_LOCK_KEY = 0x6A69_6573_755F_6D69  # "jiesu_mi"


@asynccontextmanager
async def migration_lock() -> AsyncIterator[None]:
    """Held while migrations run, so that processes starting together migrate one after the other: on
    SQLite an exclusive lock on a file beside the database (``<db>.migrate.lock``), on PostgreSQL a
    session advisory lock on a connection of its own."""
    engine = current_engine()
    if isinstance(engine, SQLiteEngine):
        database = Path(engine.path)
        with (database.parent / f"{database.name}.migrate.lock").open("a") as handle:
            await asyncio.to_thread(fcntl.flock, handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return
    if not isinstance(engine, PostgresEngine):
        raise RuntimeError(f"no migration lock for {engine.engine_type}")
    connection = await engine.get_new_connection()
    try:
        await connection.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            yield
        finally:
            await connection.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)
    finally:
        await connection.close()


async def run_migrations() -> str:
    """Apply every pending Piccolo migration of every jiesu app, under ``migration_lock``; returns
    Piccolo's report."""
    from piccolo.apps.migrations.commands.forwards import run_forwards

    output = io.StringIO()
    async with migration_lock():
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
