from pathlib import Path

from piccolo.conf.apps import AppConfig

from jiesu.sla.tables import SlaTimer

APP_CONFIG = AppConfig(
    app_name="sla",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[SlaTimer],
    migration_dependencies=["jiesu.cases.piccolo_app"],
    commands=[],
)
