"""Composite indexes matching the queue and listing queries."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from jiesu.db import current_engine

ID = "2026-11-23T12:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "queue and listing indexes"

INDEXES = [
    "CREATE INDEX IF NOT EXISTS jiesu_case_queue ON jiesu_case (assignee, state, due_at)",
    "CREATE INDEX IF NOT EXISTS jiesu_case_state_due ON jiesu_case (state, due_at)",
    "CREATE INDEX IF NOT EXISTS jiesu_case_scope ON jiesu_case (jurisdiction_path, state)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="cases", description=DESCRIPTION)

    async def create_indexes() -> None:
        for statement in INDEXES:
            await current_engine().run_ddl(statement)

    manager.add_raw(create_indexes)
    return manager
