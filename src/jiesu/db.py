"""Engine selection (SQLite by default, PostgreSQL by URL), startup pragmas, migrations.

Piccolo finds its engine through ``jiesu.piccolo_conf``, which asks this module for the engine in use,
so the app, the CLI, Piccolo's migration runner and the tests all share one switch: ``use_engine``.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import logging
import os
import sqlite3
import weakref
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import aiosqlite
from piccolo.engine.base import Engine
from piccolo.engine.exceptions import TransactionError
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType

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
    if os.environ.get("JIESU_SQLITE_WRITE_PATH", "serial") == "piccolo":  # Piccolo's own, to compare
        return SQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)
    return SerialSQLiteEngine(path=str(path), timeout=SQLITE_BUSY_TIMEOUT_SECONDS)


# ---- the SQLite write path ---------------------------------------------------------------------
#
# Piccolo's SQLiteEngine opens a new connection (a new thread) for every query outside a transaction and
# for every transaction, and its writers race for SQLite's one write lock with sleeps in the busy handler.
# SerialSQLiteEngine keeps Piccolo for every query but changes where queries run:
#   - writes: ONE long-lived writer connection per event loop. Write transactions take turns on it (an
#     asyncio lock, first come first served); each runs as a SAVEPOINT inside a shared transaction, and
#     that transaction is committed once no more writers are queued (group commit), or after GROUP_MAX.
#     A writer's ``async with`` block returns only after the COMMIT that contains its work, so nobody is
#     answered before their change is durable; a failing writer rolls back to its savepoint only.
#   - reads outside a transaction: a few long-lived reader connections, reused (WAL lets them read while
#     the writer writes).
# Other processes on the same file still meet at SQLite's lock (BEGIN IMMEDIATE and the busy timeout).

GROUP_MAX = 256  # writers per commit at most, so a steady stream of writers still commits regularly
READERS = 4
_WRITE_VERBS = ("insert", "update", "delete", "replace", "create", "drop", "alter", "pragma", "vacuum")


class _Writer:
    """The writer connection of one event loop, its turn lock and the batch awaiting commit."""

    def __init__(self, engine: SerialSQLiteEngine) -> None:
        self.engine = engine
        self.lock = asyncio.Lock()
        self.connection: aiosqlite.Connection | None = None
        self.in_transaction = False
        self.pending: list[asyncio.Future[None]] = []
        self.commit_task: asyncio.Task[None] | None = None
        self.savepoints = itertools.count(1)
        self.commits = 0  # COMMITs so far; fewer than write transactions when groups form

    async def settled(self) -> None:
        """Wait until every write finished so far is committed, so a read that follows sees it."""
        if self.pending:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.pending[-1])

    async def open(self) -> aiosqlite.Connection:
        if self.connection is None:
            self.connection = await self.engine.get_connection()
        return self.connection

    async def begin(self) -> aiosqlite.Connection:
        connection = await self.open()
        if not self.in_transaction:
            await connection.execute("BEGIN IMMEDIATE")
            self.in_transaction = True
        return connection

    def schedule_commit(self) -> None:
        """Commit after every writer queued now has had its turn (the lock serves in FIFO order)."""
        if self.commit_task is None or self.commit_task.done():
            self.commit_task = asyncio.get_running_loop().create_task(self._commit_in_turn())

    async def _commit_in_turn(self) -> None:
        async with self.lock:
            await self.commit()

    async def commit(self) -> None:
        """COMMIT the open transaction and answer every writer in it. Call holding the lock."""
        batch, self.pending = self.pending, []
        if not self.in_transaction:
            return
        try:
            assert self.connection is not None
            await self.connection.execute("COMMIT")
            self.commits += 1
        except BaseException as exc:
            await self.abort(exc, batch)
            return
        finally:
            self.in_transaction = False
        for future in batch:
            if not future.done():
                future.set_result(None)

    async def abort(self, exc: BaseException, batch: list[asyncio.Future[None]] | None = None) -> None:
        """Roll the whole open transaction back and fail every writer in it. Call holding the lock."""
        batch = batch if batch is not None else self.pending
        self.pending = []
        if self.connection is not None and self.in_transaction:
            with contextlib.suppress(Exception):
                await self.connection.execute("ROLLBACK")
        self.in_transaction = False
        for future in batch:
            if not future.done():
                future.set_exception(RuntimeError(f"the group commit failed: {exc!r}"))

    async def close(self) -> None:
        async with self.lock:
            await self.commit()
            if self.connection is not None:
                await self.connection.close()
                self.connection = None


class SerialWriteTransaction(SQLiteTransaction):
    """A write transaction on the loop's writer connection: a savepoint inside the group's transaction."""

    __slots__ = ("_savepoint", "_writer")

    async def __aenter__(self) -> SQLiteTransaction:
        if self._parent is not None:
            return self._parent
        engine: SerialSQLiteEngine = self.engine  # type: ignore[assignment]
        self._writer = engine.writer()
        await self._writer.lock.acquire()
        try:
            self.connection = await self._writer.begin()
            self._savepoint = f"w{next(self._writer.savepoints)}"
            await self.connection.execute(f"SAVEPOINT {self._savepoint}")
        except BaseException as exc:
            await self._writer.abort(exc)
            self._writer.lock.release()
            raise
        self.context = self.engine.current_transaction.set(self)
        return self

    async def commit(self) -> None:
        raise TransactionError("a group-committed transaction commits when its block ends")

    async def rollback(self) -> None:
        raise TransactionError("leave the block with an exception to roll it back")

    async def __aexit__(self, exception_type, exception, traceback) -> bool:  # type: ignore[no-untyped-def]
        if self._parent:
            return exception is None
        self.engine.current_transaction.reset(self.context)
        writer = self._writer
        done: asyncio.Future[None] | None = None
        try:
            if exception is None:
                await self.connection.execute(f"RELEASE SAVEPOINT {self._savepoint}")
                done = asyncio.get_running_loop().create_future()
                writer.pending.append(done)
                if len(writer.pending) >= GROUP_MAX:
                    await writer.commit()
                else:
                    writer.schedule_commit()
            else:
                await self.connection.execute(f"ROLLBACK TO SAVEPOINT {self._savepoint}")
                await self.connection.execute(f"RELEASE SAVEPOINT {self._savepoint}")
                if writer.pending:
                    writer.schedule_commit()
                else:  # nothing of anyone else's is waiting: end the transaction now
                    await writer.commit()
        except BaseException as exc:  # the connection itself failed: nobody in this group is committed
            await writer.abort(exc)
            raise
        finally:
            writer.lock.release()
        if done is not None:
            await done  # answered only once the COMMIT holding this work has succeeded
        return exception is None


class SerialSQLiteEngine(SQLiteEngine):
    """Piccolo's SQLite engine with one serialised, group-committing writer and reused readers."""

    def __init__(self, path: str, **connection_kwargs: Any) -> None:
        super().__init__(path=path, **connection_kwargs)
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Writer] = (
            weakref.WeakKeyDictionary()
        )
        self._readers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Queue[aiosqlite.Connection]
        ] = weakref.WeakKeyDictionary()
        self._opened: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[aiosqlite.Connection]] = (
            weakref.WeakKeyDictionary()
        )

    async def get_connection(self) -> aiosqlite.Connection:
        connection = await super().get_connection()  # sets foreign_keys once, for the connection's life
        await connection.execute("PRAGMA synchronous = FULL")  # a 201 survives a power loss too
        return connection

    def writer(self) -> _Writer:
        loop = asyncio.get_running_loop()
        writer = self._writers.get(loop)
        if writer is None:
            writer = self._writers[loop] = _Writer(self)
        return writer

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.deferred,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return SerialWriteTransaction(
            engine=self, transaction_type=transaction_type, allow_nested=allow_nested
        )

    async def _reader(self) -> asyncio.Queue[aiosqlite.Connection]:
        loop = asyncio.get_running_loop()
        readers = self._readers.get(loop)
        if readers is None:
            readers = self._readers[loop] = asyncio.Queue()
            opened = self._opened[loop] = []
            for _ in range(READERS):
                connection = await self.get_connection()
                opened.append(connection)
                readers.put_nowait(connection)
        return readers

    async def _run_in_existing_connection(  # type: ignore[override]
        self,
        connection: aiosqlite.Connection,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> list[dict[str, Any]]:
        """Piccolo's version, without re-sending ``PRAGMA foreign_keys`` before every statement."""
        async with connection.execute(query, args or []) as cursor:
            return await cursor.fetchall()

    async def _run_in_new_connection(  # type: ignore[override]
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> list[dict[str, Any]]:
        if query.lstrip().split(None, 1)[0].lower() in _WRITE_VERBS:
            async with self.transaction():  # a lone write is a write transaction of its own
                return await self._run_in_existing_connection(self.writer().connection, query, args)
        await self.writer().settled()  # read your writes: a group may still be on its way to COMMIT
        readers = await self._reader()
        connection = await readers.get()
        try:
            return await self._run_in_existing_connection(connection, query, args)
        finally:
            readers.put_nowait(connection)

    async def close(self) -> None:
        """Commit what is pending and close this loop's connections."""
        loop = asyncio.get_running_loop()
        writer = self._writers.pop(loop, None)
        if writer is not None:
            await writer.close()
        self._readers.pop(loop, None)
        for connection in self._opened.pop(loop, []):
            await connection.close()


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
    if isinstance(engine, SerialSQLiteEngine):
        await engine.close()
