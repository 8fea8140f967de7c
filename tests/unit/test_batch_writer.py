"""The SQLite batch writer: answers after the commit, and one bad request never fails the others."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from jiesu.batch_writer import Query, SqliteBatchWriter, Steps, postgres_sql


def insert_each(items: list[int]) -> Steps[int]:
    for item in items:
        yield Query("INSERT INTO numbers (value) VALUES (?)", [item])
    rows = yield Query("SELECT COUNT(*) AS n FROM numbers")
    return [rows[0]["n"]] * len(items)


def make_table(path: Path) -> None:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE numbers (value INTEGER NOT NULL CHECK (value >= 0))")


def committed(path: Path) -> list[int]:
    with sqlite3.connect(path) as connection:
        return sorted(row[0] for row in connection.execute("SELECT value FROM numbers"))


async def test_a_failing_request_is_refused_alone_and_the_others_are_committed(tmp_path: Path) -> None:
    path = tmp_path / "batch.db"
    make_table(path)
    writer: SqliteBatchWriter[int, int] = SqliteBatchWriter(str(path), insert_each, "test-writer")
    writer.start()
    try:
        results = await asyncio.gather(*(writer.submit(n) for n in [*range(10), -1]), return_exceptions=True)
    finally:
        await writer.stop()
    assert isinstance(results[-1], sqlite3.IntegrityError)
    assert all(isinstance(result, int) for result in results[:-1])
    assert committed(path) == list(range(10))


async def test_each_request_is_answered_only_once_its_write_is_committed(tmp_path: Path) -> None:
    path = tmp_path / "batch.db"
    make_table(path)
    writer: SqliteBatchWriter[int, int] = SqliteBatchWriter(str(path), insert_each, "test-writer")
    writer.start()
    seen: list[tuple[int, list[int]]] = []

    async def submit_and_look(value: int) -> None:
        await writer.submit(value)
        seen.append((value, committed(path)))  # what another connection sees when we are answered

    try:
        await asyncio.gather(*(submit_and_look(n) for n in range(20)))
    finally:
        await writer.stop()
    assert committed(path) == list(range(20))
    assert len(seen) == 20 and all(value in rows for value, rows in seen)


def test_postgres_statements_get_numbered_placeholders() -> None:
    assert postgres_sql("SELECT * FROM t WHERE a = ? AND b IN (?,?)") == (
        "SELECT * FROM t WHERE a = $1 AND b IN ($2,$3)"
    )


@pytest.mark.parametrize("count", [1, 300])
async def test_more_requests_than_one_batch_holds_are_all_written(tmp_path: Path, count: int) -> None:
    path = tmp_path / "batch.db"
    make_table(path)
    writer: SqliteBatchWriter[int, int] = SqliteBatchWriter(str(path), insert_each, "test-writer")
    writer.start()
    try:
        await asyncio.gather(*(writer.submit(n) for n in range(count)))
    finally:
        await writer.stop()
    assert committed(path) == list(range(count))
