"""`jiesu serve --workers N` migrates once, under a lock, before any worker starts; a failed migration
stops the start with a message."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import pytest

from jiesu import cli, db
from jiesu.config import Settings


@pytest.fixture
def environment(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("JIESU_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("JIESU_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("JIESU_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("JIESU_MIGRATE_ON_START", "1")  # undone after the test, whatever serve sets
    return settings


def test_serve_migrates_once_before_the_workers_start(
    environment: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrate = db.run_migrations
    events: list[str] = []

    async def counted() -> str:
        events.append("migrate")
        return await migrate()

    def fake_serve(app: str, **options: Any) -> None:
        events.append(f"serve {options['workers']} workers")
        # what each worker reads at start: the database is migrated, do not migrate again
        assert Settings.from_env().migrate_on_start is False

    monkeypatch.setattr(db, "run_migrations", counted)
    monkeypatch.setattr(cli, "serve", fake_serve)
    assert cli.main(["serve", "--workers", "3"]) == 0
    assert events == ["migrate", "serve 3 workers"]
    assert os.environ["JIESU_MIGRATE_ON_START"] == "0"


def test_a_failed_migration_stops_the_start_with_a_message(
    environment: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def failing() -> str:
        raise RuntimeError("migrations failed: column x already exists")

    started: list[str] = []
    monkeypatch.setattr(db, "run_migrations", failing)
    monkeypatch.setattr(cli, "serve", lambda app, **_: started.append(app))
    assert cli.main(["serve", "--workers", "2"]) == 1
    assert started == []
    message = capsys.readouterr().err
    assert "the server is not started" in message and "column x already exists" in message


async def test_migrations_wait_for_the_lock_another_process_holds(settings: Settings) -> None:
    await db.start(settings.database_url, migrate=False)
    try:
        async with db.migration_lock():
            running = asyncio.create_task(db.run_migrations())
            await asyncio.sleep(1.0)
            assert not running.done()  # waits: another process is migrating
        await asyncio.wait_for(running, 120)
    finally:
        await db.stop()
