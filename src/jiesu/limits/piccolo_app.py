from pathlib import Path

from piccolo.conf.apps import AppConfig

from jiesu.limits.tables import AttemptWindow, RateWindow

APP_CONFIG = AppConfig(
    app_name="limits",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[RateWindow, AttemptWindow],
    migration_dependencies=[],
    commands=[],
)
