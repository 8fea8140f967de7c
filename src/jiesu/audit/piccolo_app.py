from pathlib import Path

from piccolo.conf.apps import AppConfig

from jiesu.audit.tables import AuditHead, CaseEvent, EventText

APP_CONFIG = AppConfig(
    app_name="audit",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[CaseEvent, AuditHead, EventText],
    migration_dependencies=["jiesu.cases.piccolo_app"],
    commands=[],
)
