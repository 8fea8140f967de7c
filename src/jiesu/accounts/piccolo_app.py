from pathlib import Path

from piccolo.conf.apps import AppConfig

from jiesu.accounts.tables import Jurisdiction, LoginFailure, User, UsernameTombstone

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[Jurisdiction, User, LoginFailure, UsernameTombstone],
    migration_dependencies=[],
    commands=[],
)
