"""The rates' narrow copy of the case columns and its watermark (see README, Reports: performance)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from jiesu.db import current_engine, is_sqlite

ID = "2026-11-23T18:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "report case copy and watermark"

STATEMENTS = [
    """CREATE TABLE IF NOT EXISTS jiesu_report_case (
        id INTEGER PRIMARY KEY,
        received_at TIMESTAMPTZ NOT NULL,
        jurisdiction_code VARCHAR(32),
        jurisdiction_path VARCHAR(400),
        category VARCHAR(64),
        assignee VARCHAR(64),
        response_due TIMESTAMPTZ,
        responded_at TIMESTAMPTZ,
        resolution_due TIMESTAMPTZ,
        resolved_at TIMESTAMPTZ,
        closed_at TIMESTAMPTZ,
        satisfaction INTEGER,
        filer_resolved BOOLEAN,
        reopen_count INTEGER NOT NULL,
        contact_centihours INTEGER,
        resolution_centihours INTEGER,
        returned INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS jiesu_report_case_received ON jiesu_report_case (received_at)",
    # a supervisor's subtree: a range of paths in byte order (reports.sql.Scope)
    "CREATE INDEX IF NOT EXISTS jiesu_report_case_scope ON jiesu_report_case"
    " (jurisdiction_path {byte_order}, received_at)",
    # the last audit event whose case the copy has taken in; -1: never built
    "CREATE TABLE IF NOT EXISTS jiesu_report_watermark (id INTEGER PRIMARY KEY, seq INTEGER NOT NULL)",
    "INSERT INTO jiesu_report_watermark (id, seq) VALUES (1, -1) ON CONFLICT (id) DO NOTHING",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="reports", description=DESCRIPTION)

    async def create() -> None:
        byte_order = "" if is_sqlite() else 'COLLATE "C"'
        for statement in STATEMENTS:
            await current_engine().run_ddl(statement.replace("{byte_order}", byte_order))

    manager.add_raw(create)
    return manager
