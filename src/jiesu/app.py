"""create_app(): wires settings, database, services, routes and the lifespan; nothing else."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, get
from litestar.datastructures import State
from litestar.handlers import HTTPRouteHandler
from litestar.openapi import OpenAPIConfig

from jiesu import db
from jiesu.accounts import rights as account_rights
from jiesu.accounts.api import (
    AuthController,
    JurisdictionController,
    ResidentController,
    UserController,
)
from jiesu.accounts.auth import build_jwt_auth
from jiesu.accounts.security import Passwords
from jiesu.accounts.service import AccountService
from jiesu.audit import rights as audit_rights
from jiesu.audit.api import AuditController
from jiesu.audit.seals import declare_text_fields
from jiesu.background import periodic
from jiesu.cases import rights as case_rights
from jiesu.cases.api import CaseController, QueueController, TrackController, flagged_cases_list
from jiesu.cases.intake import open_case_counts
from jiesu.cases.service import CaseService
from jiesu.cases.sweeper import Sweeper
from jiesu.clock import Clock, system_clock
from jiesu.config import Settings
from jiesu.http_errors import COMMON_ERROR_ANSWERS, EXCEPTION_HANDLERS, OPEN_TO_ANONYMOUS
from jiesu.limits.http import anonymous_intake_limit, check_request_input
from jiesu.limits.input import MAX_BODY_BYTES
from jiesu.mediation import rights as mediation_rights
from jiesu.mediation.api import FollowUpController, MediationController
from jiesu.mediation.config import load_clocks
from jiesu.mediation.rooms import install_mediation
from jiesu.notify import rights as notify_rights
from jiesu.notify.api import NotificationController
from jiesu.notify.delivery import sender_job, webhook_sender
from jiesu.open311.api import Open311Controller, Open311KeyController
from jiesu.open311.keys import KeyService
from jiesu.ops import http as observability
from jiesu.ops.api import metrics_endpoint
from jiesu.ops.http import log_unexpected
from jiesu.ops.logs import configure_logging, get_logger
from jiesu.ops.metrics import HttpMetrics
from jiesu.reports.api import ReportController
from jiesu.reports.config import load_report_settings
from jiesu.reports.service import ReportService
from jiesu.rights import registry as personal_data
from jiesu.rights.api import MeController, RetentionController
from jiesu.rights.service import RightsService, retention_lifespan
from jiesu.routing.api import RoutingController, RoutingRulesController, WorkerController
from jiesu.routing.catalogue import load_catalogue
from jiesu.routing.router import Router
from jiesu.routing.rules import load_rules
from jiesu.sla.api import SlaController
from jiesu.sla.calendar import load_sla_config
from jiesu.web import template_config, web_routes
from jiesu.web.rights import PhotoRights
from jiesu.web.uploads import upload_dir
from jiesu.workflow import load_workflow

logging.getLogger("transitions").setLevel(logging.WARNING)


@get("/health", tags=["ops"], summary="Liveness and database check", security=OPEN_TO_ANONYMOUS)
async def health() -> dict[str, str]:
    await db.current_engine().run_ddl("SELECT 1")
    return {"status": "ok"}


def document_error_answers(app: Litestar) -> None:
    """Handlers that declare no error answers get the ones every guarded route can give, so the
    OpenAPI document lists them (schemathesis checks every status it receives is documented)."""
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if isinstance(handler, HTTPRouteHandler) and not handler.raises:
                handler.raises = COMMON_ERROR_ANSWERS


def register_personal_data(var_dir: Path) -> None:
    """Each domain's export and erasure hooks for residents' rights, in the order of the export."""
    personal_data.register(
        "account", export=account_rights.export_account, forget_account=account_rights.forget_account
    )
    personal_data.register("cases", export=case_rights.export_cases)
    personal_data.register(
        "events", export=audit_rights.export_events, erase_case=audit_rights.erase_case_texts
    )
    personal_data.register(
        "notifications",
        export=notify_rights.export_notifications,
        erase_case=notify_rights.forget_case_filer,
        forget_account=notify_rights.forget_recipient,
    )
    personal_data.register(
        "mediation",
        export=mediation_rights.export_mediation,
        erase_case=mediation_rights.erase_mediation,
        forget_account=mediation_rights.unlink_mediation_user,
    )
    photos = PhotoRights(upload_dir(var_dir))
    personal_data.register("photos", export=photos.export_photos, erase_case=photos.erase_photos)


def create_app(settings: Settings | None = None, clock: Clock = system_clock) -> Litestar:
    """The app; ``clock`` is the time source of every service (tests pass a fake one)."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    http_metrics = HttpMetrics()
    workflow = load_workflow(settings.workflows_dir / "case.yaml")
    declare_text_fields(workflow.spec.free_text_fields())  # sealed in the chain, wherever they appear
    catalogue = load_catalogue(settings.workflows_dir / "categories.yaml")
    jwt_auth = build_jwt_auth(settings.secret_key, settings.token_ttl_minutes)
    accounts = AccountService(Passwords(settings.password_hash_profile), clock)
    rules = load_rules(settings.workflows_dir / "routing.yaml", catalogue)
    router = Router(rules, catalogue, open_cases=open_case_counts)
    sla = load_sla_config(settings.workflows_dir / "sla.yaml")
    cases = CaseService(workflow, catalogue, settings.secret_key, clock, router=router, sla=sla)
    sweeper = Sweeper(cases, sla, clock)
    sender = webhook_sender(settings, clock)
    mediation = install_mediation(cases, load_clocks(settings.workflows_dir / "mediation.yaml"))
    reports = ReportService(load_report_settings(settings.workflows_dir / "reports.yaml"), cases)
    register_personal_data(Path(settings.var_dir))
    rights = RightsService(clock, settings.retention_days)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await db.start(settings.database_url, migrate=settings.migrate_on_start)
        get_logger("jiesu").info("started", database="sqlite" if settings.is_sqlite else "postgresql")
        try:
            await cases.start_intake_writer()
            await accounts.ensure_admin(settings.admin_password)
            if settings.demo:
                from jiesu.demo import load_demo_data

                await load_demo_data(accounts, cases)
            # What start-up built lives as long as the process: keep it out of every GC pass.
            gc.freeze()
            yield
        finally:
            await cases.stop_intake_writer()
            await db.stop()

    app = Litestar(
        route_handlers=[
            health,
            AuthController,
            JurisdictionController,
            UserController,
            ResidentController,
            CaseController,
            QueueController,
            TrackController,
            AuditController,
            MediationController,
            FollowUpController,
            *web_routes(settings),
            ReportController,
            RoutingRulesController,
            RoutingController,
            flagged_cases_list,
            WorkerController,
            SlaController,
            NotificationController,
            Open311Controller,
            Open311KeyController,
            metrics_endpoint,
            MeController,
            RetentionController,
        ],
        lifespan=[
            lifespan,
            periodic("sla-sweeper", settings.sweep_interval_seconds, sweeper.sweep),
            periodic(
                "outbox-delivery", settings.delivery_interval_seconds if sender else 0, sender_job(sender)
            ),
            retention_lifespan(rights, settings.retention_interval_seconds),
        ],
        on_app_init=[jwt_auth.on_app_init, observability.install(http_metrics)],
        exception_handlers=EXCEPTION_HANDLERS,
        template_config=template_config(),
        before_request=check_request_input,
        middleware=anonymous_intake_limit(settings.anonymous_intake_per_minute, clock),
        request_max_body_size=MAX_BODY_BYTES,
        logging_config=None,  # jiesu.ops.logs configures logging (JSON, scrubbed) for the process
        after_exception=[log_unexpected],
        openapi_config=OpenAPIConfig(title="jiesu", version="0.1.0", path="/schema"),
        state=State(
            {
                "settings": settings,
                "clock": clock,
                "workflow": workflow,
                "catalogue": catalogue,
                "jwt_auth": jwt_auth,
                "verified_tokens": {},  # accounts.auth.optional_principal
                "accounts": accounts,
                "cases": cases,
                "mediation": mediation,
                "reports": reports,
                "router": router,
                "sweeper": sweeper,
                "sender": sender,
                "open311_keys": KeyService(clock, settings.open311_rate_per_minute),
                "http_metrics": http_metrics,
                "rights": rights,
            }
        ),
        debug=False,
    )
    document_error_answers(app)
    return app
