"""Group commit for hot write paths: many requests' writes in one transaction, with a few statements.

A *batch step* is a generator that yields ``Query`` objects and receives each query's rows; it holds
the logic once, and three drivers run it:

- on SQLite, a writer thread that owns one ``sqlite3`` connection: it drains its queue, runs the step
  for everything queued inside one ``BEGIN IMMEDIATE … COMMIT`` and answers each request only after
  that commit (what lifts the intake path);
- on PostgreSQL, an asyncio task doing the same on one pooled asyncpg connection;
- inside a transaction already open (``jiesu.db.write_transaction``), on that transaction's connection.

When a batch fails as a whole, each request is written again in a transaction of its own, so one bad
request never takes the others down. SQL is written with ``?`` placeholders; PostgreSQL gets ``$n``.
Parts of a step are ``Statements`` (``yield from``); the domains offer theirs (the audit chain's
append, the router's reads), and ``run_statements`` runs one alone, so both paths share that code.

Why two group-commit engines, this one and ``jiesu.db.GroupCommitWriter``
--------------------------------------------------------------------------
Both give many requests one COMMIT (one fsync), and both answer a request only after its commit. They
differ in what they can run, and that is why there are two:

- ``GroupCommitWriter`` (behind ``write_transaction``) runs *any* business operation as written: async
  code using the Piccolo ORM, awaiting reads, checks and hooks between its statements. Operations queue
  on a lock and run one after another, each in a SAVEPOINT of the shared transaction. It saves the
  fsyncs but not the statements: N operations cost N times their statements, each a round trip through
  the async driver (on SQLite, aiosqlite's thread hop).
- This module runs one *batch step* for all queued requests together: set-based statements whose number
  does not grow with the batch (one INSERT for every case of the batch), a plain ``sqlite3`` connection
  in a thread of its own, and file-lock turns between server processes. The price is that the logic
  must be written as a step over a whole batch with everything awaited done before (the intake's
  prepare phase, ``jiesu.cases.effects``), which pays only on a hot path: filing.

Merging them would mean either writing every operation as a batch step (all of ``CaseService``,
mediation, rights …) or running the intake one filing at a time through savepoints, which would give up
the intake's throughput; neither is simple or safe, so both stay, with the intake the only batch step.
When a filing happens inside a ``write_transaction`` (a web form that also stores a photo), its step
runs on that transaction's connection (the third driver above), so each write has exactly one engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import queue
import re
import sqlite3
import threading
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

import aiosqlite
from piccolo.columns import Column
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine
from piccolo.table import Table

from jiesu import db

Item = TypeVar("Item")
Result = TypeVar("Result")
Value = TypeVar("Value")
Rows = list[dict[str, Any]]
MAX_BATCH = 256


@dataclass(frozen=True)
class Query:
    """One statement; given ``rows`` it runs once per row (executemany) and returns nothing."""

    sql: str
    params: Sequence[Any] = ()
    rows: Sequence[Sequence[Any]] | None = None

    @property
    def many(self) -> bool:
        return self.rows is not None


# Statements that end in a value: a part of a batch step (``yield from``), or run alone (``run_statements``).
Statements = Generator[Query, Rows, Value]
Steps = Generator[Query, Rows, list[Result | Exception]]
BatchStep = Callable[[list[Item]], Steps[Result]]


def placeholders(count: int) -> str:
    return ",".join("?" * count)


def name(column: Column) -> str:
    """A column as the database names it."""
    return column._meta.db_column_name


def table_name(table: type[Table]) -> str:
    return table._meta.tablename


@cache
def _row_keys(table: type[Table]) -> tuple[str, ...]:
    """Every column but the id, as rows key them; cached: ``_meta`` is slow to ask per row."""
    return tuple(column._meta.name for column in table._meta.non_default_columns)


@cache
def _insert_into(table: type[Table]) -> str:
    columns = ", ".join(name(column) for column in table._meta.non_default_columns)
    return f"INSERT INTO {table_name(table)} ({columns}) VALUES "


def insert_sql(
    table: type[Table], rows: int = 1, returning: Sequence[Column] = (), on_conflict: str = ""
) -> str:
    """INSERT of ``rows`` whole rows (every column but the id) into ``table``."""
    one = f"({placeholders(len(_row_keys(table)))})"
    sql = _insert_into(table) + ",".join([one] * rows)
    sql += f" ON CONFLICT {on_conflict}" if on_conflict else ""
    return f"{sql} RETURNING {', '.join(name(c) for c in returning)}" if returning else sql


def row_values(table: type[Table], row: dict[str, Any]) -> list[Any]:
    """The values of a row (keyed by column name) in the order ``insert_sql`` lists the columns."""
    return [row[key] for key in _row_keys(table)]


def insert_rows(table: type[Table], rows: Sequence[dict[str, Any]]) -> Query:
    """One statement run for every row (executemany)."""
    return Query(insert_sql(table), rows=[row_values(table, row) for row in rows])


_QUESTION_MARK = re.compile(r"\?")


def postgres_sql(sql: str) -> str:
    counter = iter(range(1, 1_000_000))
    return _QUESTION_MARK.sub(lambda _: f"${next(counter)}", sql)


# ---- drivers ------------------------------------------------------------------------------------


def _sqlite_rows(cursor: sqlite3.Cursor) -> Rows:
    if cursor.description is None:
        return []
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def run_on_sqlite(connection: sqlite3.Connection, steps: Statements[Value]) -> Value:
    try:
        query = next(steps)
        while True:
            if query.many:
                connection.executemany(query.sql, query.rows)
                rows: Rows = []
            else:
                rows = _sqlite_rows(connection.execute(query.sql, query.params))
            query = steps.send(rows)
    except StopIteration as stop:
        return stop.value


async def run_on_connection(connection: Any, steps: Statements[Value]) -> Value:
    """Run on an asyncpg or aiosqlite connection (a transaction is already open on it)."""
    postgres = not isinstance(connection, aiosqlite.Connection)
    try:
        query = next(steps)
        while True:
            rows: Rows = []
            if postgres:
                sql = postgres_sql(query.sql)
                if query.many:
                    await connection.executemany(sql, query.rows)
                else:
                    rows = [dict(record) for record in await connection.fetch(sql, *query.params)]
            elif query.many:
                await connection.executemany(query.sql, query.rows)
            else:
                async with connection.execute(query.sql, query.params) as cursor:
                    fetched = await cursor.fetchall()
                    names = [column[0] for column in cursor.description or ()]
                    # Piccolo's connections answer dicts already (its row factory).
                    rows = [
                        row if isinstance(row, dict) else dict(zip(names, row, strict=True))
                        for row in fetched
                    ]
            query = steps.send(rows)
    except StopIteration as stop:
        return stop.value


async def run_in_current_transaction(steps: Statements[Value]) -> Value:
    transaction = db.current_engine().current_transaction.get()
    if transaction is None:
        raise RuntimeError("this must run inside jiesu.db.write_transaction()")
    return await run_on_connection(transaction.connection, steps)


async def run_statements(steps: Statements[Value]) -> Value:
    """Run in the current transaction, or outside any on a connection of its own (reads)."""
    engine = db.current_engine()
    if engine.current_transaction.get() is not None:
        return await run_in_current_transaction(steps)
    if isinstance(engine, PostgresEngine):
        if engine.pool is not None:
            async with engine.pool.acquire() as pooled:
                return await run_on_connection(pooled, steps)
        connection = await engine.get_new_connection()
    elif isinstance(engine, SQLiteEngine):
        connection = await engine.get_connection()
    else:
        raise TypeError(f"no statements runner for {type(engine).__name__}")
    try:
        return await run_on_connection(connection, steps)
    finally:
        await connection.close()


# ---- writers ------------------------------------------------------------------------------------


Waiter = tuple[Any, asyncio.Future[Any], asyncio.AbstractEventLoop]


def _answer(future: asyncio.Future[Any], result: Any) -> None:
    if future.done():  # the caller went away; its write stands
        return
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


class SqliteBatchWriter(Generic[Item, Result]):
    """A thread owning one connection; each request is answered only after the commit of its batch."""

    def __init__(self, path: str, step: BatchStep[Item, Result], name: str) -> None:
        self.path = path
        self.step = step
        self._lock_path = f"{path}-writer.lock"
        self._queue: queue.SimpleQueue[Waiter | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._queue.put((item, future, loop))
        return await future

    async def stop(self) -> None:
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """The writer threads of all server processes take turns through a file lock.

        SQLite's own busy handler polls with sleeps of up to 100 ms, which under two busy processes
        shows as a p99 of seconds; the kernel hands a released ``flock`` to the next waiter at once.
        Other writers (the rest of the app, through Piccolo) still wait on SQLite's busy timeout.
        """
        fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)

    def _connect(self) -> sqlite3.Connection:
        # The same type converters as Piccolo's engine, so rows read back alike.
        connection = sqlite3.connect(
            self.path,
            timeout=db.SQLITE_BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            detect_types=sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES,
            check_same_thread=False,
        )
        connection.execute("PRAGMA synchronous=FULL")
        return connection

    def _run(self) -> None:
        connection = self._connect()
        self._lock_file = open(self._lock_path, "a+b")  # noqa: SIM115 - held for the thread's life
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                with contextlib.suppress(queue.Empty):
                    while len(batch) < MAX_BATCH:
                        waiter = self._queue.get_nowait()
                        if waiter is None:
                            self._queue.put(None)  # stop after this batch
                            break
                        batch.append(waiter)
                self._write(connection, batch)
        finally:
            connection.close()
            self._lock_file.close()

    def _write(self, connection: sqlite3.Connection, batch: list[Waiter]) -> None:
        try:
            with self._turn():
                connection.execute("BEGIN IMMEDIATE")
                try:
                    results = run_on_sqlite(connection, self.step([item for item, _, _ in batch]))
                    connection.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        connection.execute("ROLLBACK")
                    raise
        except Exception as exc:
            if len(batch) > 1:
                for waiter in batch:
                    self._write(connection, [waiter])
                return
            results = [exc]
        for (_, future, loop), result in zip(batch, results, strict=True):
            loop.call_soon_threadsafe(_answer, future, result)


class PostgresBatchWriter(Generic[Item, Result]):
    """An asyncio task writing everything queued meanwhile in one transaction on one connection."""

    def __init__(self, engine: PostgresEngine, step: BatchStep[Item, Result], name: str) -> None:
        self.engine = engine
        self.step = step
        self.name = name
        self._queue: asyncio.Queue[tuple[Item, asyncio.Future[Result]] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return await future

    async def stop(self) -> None:
        self._queue.put_nowait(None)
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        while True:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            stopping = False
            while len(batch) < MAX_BATCH and not self._queue.empty():
                waiter = self._queue.get_nowait()
                if waiter is None:
                    stopping = True
                    break
                batch.append(waiter)
            # Shielded: a batch once begun is finished and answered, even while the app shuts down.
            await asyncio.shield(self._write(batch))
            if stopping:
                return

    async def _write(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            async with self.engine.pool.acquire() as connection, connection.transaction():
                results = await run_on_connection(connection, self.step([item for item, _ in batch]))
        except Exception as exc:
            if len(batch) > 1:
                for waiter in batch:
                    await self._write([waiter])
                return
            results = [exc]
        for (_, future), result in zip(batch, results, strict=True):
            _answer(future, result)


def batch_writer(engine: Engine, step: BatchStep[Item, Result], name: str) -> Any:
    if isinstance(engine, SQLiteEngine):
        return SqliteBatchWriter(engine.path, step, name)
    if isinstance(engine, PostgresEngine):
        return PostgresBatchWriter(engine, step, name)
    raise TypeError(f"no batch writer for {type(engine).__name__}")
