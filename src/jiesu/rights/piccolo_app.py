from pathlib import Path

from piccolo.conf.apps import AppConfig

from jiesu.rights.tables import Erasure

APP_CONFIG = AppConfig(
    app_name="rights",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Erasure],
    migration_dependencies=["jiesu.cases.piccolo_app"],
    commands=[],
)
