from pathlib import Path

from piccolo.conf.apps import AppConfig

from jiesu.reports.tables import Exclusion

APP_CONFIG = AppConfig(
    app_name="reports",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Exclusion],
    migration_dependencies=["jiesu.cases.piccolo_app", "jiesu.audit.piccolo_app"],
    commands=[],
)
