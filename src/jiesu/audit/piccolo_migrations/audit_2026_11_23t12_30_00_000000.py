"""The chain's head row: sequence 0, the genesis hash."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from jiesu.db import current_engine

ID = "2026-11-23T12:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit head row"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)

    async def seed_head() -> None:
        await current_engine().run_ddl(
            "INSERT INTO jiesu_audit_head (id, seq, hash) VALUES (1, 0, '" + "0" * 64 + "')"
        )

    manager.add_raw(seed_head)
    return manager
