"""Indexes for the supervision reports (see README, Reports: performance)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from jiesu.db import current_engine

ID = "2026-11-23T12:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "report indexes"

INDEXES = [
    # rates and hot spots: every report is a window over the receipt time
    "CREATE INDEX IF NOT EXISTS jiesu_case_received ON jiesu_case (received_at)",
    # overdue watch: open cases by deadline; a partial index leaves the closed majority out
    "CREATE INDEX IF NOT EXISTS jiesu_case_open_due ON jiesu_case (due_at) WHERE state <> 'closed'",
    # returned orders: the semi-join on events by action
    "CREATE INDEX IF NOT EXISTS jiesu_case_event_action ON jiesu_case_event (action, case_id)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="reports", description=DESCRIPTION)

    async def create_indexes() -> None:
        for statement in INDEXES:
            await current_engine().run_ddl(statement)

    manager.add_raw(create_indexes)
    return manager
