from pathlib import Path

from piccolo.conf.apps import AppConfig

from jiesu.web.tables import Attachment

APP_CONFIG = AppConfig(
    app_name="web",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Attachment],
    migration_dependencies=["jiesu.cases.piccolo_app"],
    commands=[],
)
