"""Piccolo's configuration module: the app registry, and the engine jiesu.db has selected."""

from piccolo.conf.apps import AppRegistry

APP_REGISTRY = AppRegistry(
    apps=[
        "jiesu.accounts.piccolo_app",
        "jiesu.cases.piccolo_app",
        "jiesu.audit.piccolo_app",
        "jiesu.notify.piccolo_app",
        "jiesu.mediation.piccolo_app",
        "jiesu.web.piccolo_app",
        "jiesu.reports.piccolo_app",
        "jiesu.routing.piccolo_app",
        "jiesu.sla.piccolo_app",
        "jiesu.limits.piccolo_app",
        "jiesu.open311.piccolo_app",
        "jiesu.rights.piccolo_app",
    ]
)


def __getattr__(name: str) -> object:
    if name == "DB":
        from jiesu.db import current_engine

        return current_engine()
    raise AttributeError(name)
