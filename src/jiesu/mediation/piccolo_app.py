from pathlib import Path

from piccolo.conf.apps import AppConfig

from jiesu.mediation.tables import (
    Agreement,
    Mediation,
    MediationParty,
    MediationSession,
    Mediator,
    PerformanceCheck,
    Recusal,
    Signature,
)

APP_CONFIG = AppConfig(
    app_name="mediation",
    migrations_folder_path=str(Path(__file__).parent / "piccolo_migrations"),
    table_classes=[
        Mediation,
        MediationParty,
        Mediator,
        Recusal,
        MediationSession,
        Agreement,
        Signature,
        PerformanceCheck,
    ],
    migration_dependencies=["jiesu.cases.piccolo_app"],
    commands=[],
)
