"""Attempts that may fail, counted per account and per client address before any password is hashed."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer, Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T23:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "attempt windows"

COLUMNS = [
    ("key", "Varchar", Varchar, {"length": 200, "default": "", "unique": True, "index": False}),
    ("window_start", "Integer", Integer, {"default": 0, "unique": False, "index": True}),
    ("count", "Integer", Integer, {"default": 0, "unique": False, "index": False}),
]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="limits", description=DESCRIPTION)
    manager.add_table(class_name="AttemptWindow", tablename="jiesu_attempt_window", schema=None, columns=None)
    for name, class_name, column_class, extra in COLUMNS:
        manager.add_column(
            table_class_name="AttemptWindow",
            tablename="jiesu_attempt_window",
            column_name=name,
            db_column_name=name,
            column_class_name=class_name,
            column_class=column_class,
            params={
                **extra,
                "null": False,
                "primary_key": False,
                "index_method": IndexMethod.btree,
                "choices": None,
                "db_column_name": None,
                "secret": False,
            },
            schema=None,
        )
    return manager
