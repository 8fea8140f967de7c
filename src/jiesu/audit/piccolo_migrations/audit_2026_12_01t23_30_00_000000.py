"""The keyed chain: each event names the key of its HMAC and records the report columns it set; the head
names the key in force. Events written before keep NULL there: plain SHA-256, sealed by the first keyed
event after them (see audit.chain)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from jiesu.db import current_engine

ID = "2026-12-01T23:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "keyed audit chain"

STATEMENTS = [
    "ALTER TABLE jiesu_case_event ADD COLUMN key_id VARCHAR(16)",
    "ALTER TABLE jiesu_case_event ADD COLUMN changes TEXT",
    "ALTER TABLE jiesu_audit_head ADD COLUMN key_id VARCHAR(16)",
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)

    async def add_columns() -> None:
        for statement in STATEMENTS:
            await current_engine().run_ddl(statement)

    manager.add_raw(add_columns)
    return manager
