"""The SQLite write path: one writer connection, write transactions in turn, group commit."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jiesu import db
from jiesu.accounts.tables import LoginFailure

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[db.SerialSQLiteEngine]:
    engine = await db.start(f"sqlite:///{tmp_path / 'w.db'}")
    assert isinstance(engine, db.SerialSQLiteEngine)
    try:
        yield engine
    finally:
        await db.stop()


async def _insert(username: str, fail: bool = False) -> None:
    async with db.write_transaction():
        await LoginFailure.insert(LoginFailure(username=username, failed_at=NOW))
        await asyncio.sleep(0)  # let other writers queue up meanwhile
        if fail:
            raise ValueError("refused")


async def test_concurrent_write_transactions_share_commits_and_all_land(
    engine: db.SerialSQLiteEngine,
) -> None:
    before = engine.writer().commits
    await asyncio.gather(*(_insert(f"u{n}") for n in range(50)))
    assert await LoginFailure.count() == 50
    commits = engine.writer().commits - before
    assert 1 <= commits < 50  # grouped: far fewer COMMITs than transactions


async def test_a_failing_writer_rolls_back_only_its_own_work(engine: db.SerialSQLiteEngine) -> None:
    results = await asyncio.gather(
        *(_insert(f"u{n}", fail=n % 3 == 0) for n in range(12)), return_exceptions=True
    )
    failed = [n for n, result in enumerate(results) if isinstance(result, ValueError)]
    assert failed == [0, 3, 6, 9]
    names = {row["username"] for row in await LoginFailure.select(LoginFailure.username)}
    assert names == {f"u{n}" for n in range(12) if n % 3}


async def test_a_transaction_returns_only_after_its_commit_and_reads_see_it(
    engine: db.SerialSQLiteEngine, tmp_path: Path
) -> None:
    import sqlite3

    await _insert("durable")
    # Another connection (another process, say) sees it: the COMMIT happened before the block returned.
    with sqlite3.connect(tmp_path / "w.db") as other:
        assert other.execute("SELECT count(*) FROM jiesu_login_failure").fetchone() == (1,)
    assert await LoginFailure.exists().where(LoginFailure.username == "durable")


async def test_a_lone_write_outside_a_transaction_goes_through_the_writer(
    engine: db.SerialSQLiteEngine,
) -> None:
    before = engine.writer().commits
    await LoginFailure.insert(LoginFailure(username="lone", failed_at=NOW))
    assert engine.writer().commits == before + 1
    await LoginFailure.delete().where(LoginFailure.username == "lone")
    assert await LoginFailure.count() == 0
