from pathlib import Path

from piccolo.conf.apps import AppConfig

from jiesu.open311.tables import Open311Key

APP_CONFIG = AppConfig(
    app_name="open311",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Open311Key],
    migration_dependencies=["jiesu.cases.piccolo_app"],
    commands=[],
)
