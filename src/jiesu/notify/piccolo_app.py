from pathlib import Path

from piccolo.conf.apps import AppConfig

from jiesu.notify.tables import OutboxMessage

APP_CONFIG = AppConfig(
    app_name="notify",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[OutboxMessage],
    migration_dependencies=["jiesu.cases.piccolo_app"],
    commands=[],
)
