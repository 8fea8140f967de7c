from pathlib import Path

from piccolo.conf.apps import AppConfig

from jiesu.routing.tables import AddressArea, RoutingDecision, RuleVersion

APP_CONFIG = AppConfig(
    app_name="routing",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[RuleVersion, AddressArea, RoutingDecision],
    migration_dependencies=["jiesu.accounts.piccolo_app"],
    commands=[],
)
