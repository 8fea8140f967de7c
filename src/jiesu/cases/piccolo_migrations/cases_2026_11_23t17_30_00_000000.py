"""A pending deadline extension request: the date asked for, by whom, when (the reason is in its event)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Timestamptz, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-23T17:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "pending extension request"

COLUMNS = [
    ("extension_requested_until", "Timestamptz", Timestamptz, {}),
    ("extension_requested_by", "Varchar", Varchar, {"length": 64}),
    ("extension_requested_at", "Timestamptz", Timestamptz, {}),
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="cases", description=DESCRIPTION)
    for name, class_name, column_class, extra in COLUMNS:
        manager.add_column(
            table_class_name="Case",
            tablename="jiesu_case",
            column_name=name,
            db_column_name=name,
            column_class_name=class_name,
            column_class=column_class,
            params={
                **extra,
                "default": None,
                "null": True,
                "primary_key": False,
                "unique": False,
                "index": False,
                "index_method": IndexMethod.btree,
                "choices": None,
                "db_column_name": None,
                "secret": False,
            },
            schema=None,
        )
    return manager
