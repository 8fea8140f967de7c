"""The ceiling for the intake benchmark: a bare Litestar handler doing one INSERT through Piccolo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from litestar import Litestar, get, post
from piccolo.columns import Text, Timestamptz, Varchar
from piccolo.table import Table

from jiesu import db
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
        engine = await db.start(database_url_from_env(), migrate=False)
        BenchRow._meta.db = engine
        await BenchRow.create_table(if_not_exists=True)
        try:
            yield
        finally:
            await db.stop()

    return Litestar([health, insert], lifespan=[lifespan])
