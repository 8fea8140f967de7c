"""The ceilings for the intake benchmark: a bare Litestar app served exactly as `jiesu serve` serves jiesu.

``GET /health`` answers a constant (the framework and server alone: the ceiling for any request);
``POST /insert`` does one INSERT through Piccolo (the database alone). Run with
``python -m benchmarks.bare_app --port N --workers N`` (environment: JIESU_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from litestar import Litestar, get, post
from piccolo.columns import Text, Timestamptz, Varchar
from piccolo.table import Table

from jiesu import db
from jiesu.cli import serve
from jiesu.config import database_url_from_env


class BenchRow(Table, tablename="bench_row"):
    title = Varchar(length=200)
    description = Text()
    created_at = Timestamptz()


@get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@post("/insert")
async def insert(data: dict[str, str]) -> dict[str, int]:
    row = BenchRow(
        title=data.get("title", ""), description=data.get("description", ""), created_at=datetime.now(UTC)
    )
    await BenchRow.insert(row)
    return {"id": row.id}


def create_app() -> Litestar:
    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        BenchRow._meta.db = await db.start(database_url_from_env(), migrate=False)
        try:
            yield
        finally:
            await db.stop()

    return Litestar([health, insert], lifespan=[lifespan])


async def _create_table() -> None:
    """Once, before the workers start: concurrent CREATE TABLE IF NOT EXISTS can fail on PostgreSQL."""
    BenchRow._meta.db = await db.start(database_url_from_env(), migrate=False)
    try:
        await BenchRow.create_table(if_not_exists=True)
    finally:
        await db.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bare_app")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(_create_table())
    serve(
        "benchmarks.bare_app:create_app",
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="INFO",
    )


if __name__ == "__main__":
    main()
