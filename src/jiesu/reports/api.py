"""The reports API: JSON by default, CSV with ``Accept: text/csv`` or ``?format=csv``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from jiesu.accounts.auth import require_roles
from jiesu.accounts.security import Principal
from jiesu.errors import field_error
from jiesu.http_errors import AlreadyExists
from jiesu.limits.input import ISO_TIME, parse_iso_time
from jiesu.reports.export import render_csv
from jiesu.reports.rates import GroupBy
from jiesu.reports.service import ReportService
from jiesu.reports.sql import resolve_scope

Format = Literal["json", "csv"]
Sections = list[tuple[str, list[dict[str, Any]]]]


# The error answers declared in the OpenAPI schema (400 is declared by Litestar for handlers with input).
REPORT_ERRORS = [NotAuthorizedException, PermissionDeniedException, NotFoundException, AlreadyExists]
# The answer of a report in the document (jiesu.contract): JSON, or CSV with format=csv / Accept: text/csv.
# Litestar's document drops gt=0 of ``float | None``: the parameter's schema as the server reads it.
WITHIN_HOURS = {"oneOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": 24 * 30}, {"type": "null"}]}
JSON_OR_CSV = {"content": {200: {"application/json": {}, "text/csv": {"type": "string"}}}}


class ExclusionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    case_id: Annotated[int, Field(ge=1)]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=5, max_length=2000)]


def parse_time(field: str, value: str | None) -> datetime | None:
    """ISO-8601; a time without an offset is UTC."""
    if value is None or value == "":
        return None
    try:
        return parse_iso_time(value)
    except ValueError as exc:
        raise field_error(field, "not an ISO-8601 date or time, e.g. 2026-03-01T00:00:00Z") from exc


def provide_reports(state: State) -> ReportService:
    return state.reports


def answer(
    request: Request[Any, Any, Any],
    fmt: Format | None,
    name: str,
    body: Any,
    sections: Callable[[], Sections],
) -> Response[Any]:
    wants_csv = fmt == "csv" if fmt else "text/csv" in request.headers.get("accept", "")
    if not wants_csv:
        return Response(body)
    return Response(
        render_csv(sections()),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


FormatParam = Annotated[Format | None, Parameter(required=False)]
JurisdictionParam = Annotated[str | None, Parameter(max_length=32, required=False)]


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]
    guards = [require_roles("worker", "dispatcher", "supervisor", "admin")]
    dependencies = {"reports": Provide(provide_reports, sync_to_thread=False)}

    @get(
        "/rates",
        summary="Received, the three rates, the composite score, times, reopen and return rates",
        raises=REPORT_ERRORS,
        opt=JSON_OR_CSV,
    )
    async def rates(
        self,
        request: Request[Principal, Any, Any],
        reports: ReportService,
        start: Annotated[
            str | None, Parameter(query="from", required=False, max_length=64, schema_extra=ISO_TIME)
        ] = None,
        end: Annotated[
            str | None, Parameter(query="to", required=False, max_length=64, schema_extra=ISO_TIME)
        ] = None,
        jurisdiction: JurisdictionParam = None,
        category: Annotated[str | None, Parameter(max_length=64, required=False)] = None,
        group_by: GroupBy | None = None,
        format: FormatParam = None,
    ) -> Response[Any]:
        start, end = reports.default_window(parse_time("from", start), parse_time("to", end))
        if start >= end:
            raise field_error("to", "must be later than from")
        if category and request.app.state.catalogue.get(category) is None:
            raise field_error("category", f"unknown category {category!r}")
        scope = await resolve_scope(request.user, jurisdiction)
        body = await reports.rates(scope, start, end, category, group_by)
        return answer(
            request,
            format,
            "rates",
            body,
            lambda: [("rates", [body["total"], *body["groups"]]), ("exclusions", body["exclusions"])],
        )

    @get(
        "/overdue",
        summary="Open cases overdue now and about to be, by clock and by level",
        raises=REPORT_ERRORS,
        opt=JSON_OR_CSV,
    )
    async def overdue(
        self,
        request: Request[Principal, Any, Any],
        reports: ReportService,
        jurisdiction: JurisdictionParam = None,
        within_hours: Annotated[
            float | None, Parameter(gt=0, le=24 * 30, required=False, schema_extra=WITHIN_HOURS)
        ] = None,
        format: FormatParam = None,
    ) -> Response[Any]:
        scope = await resolve_scope(request.user, jurisdiction)
        within = timedelta(hours=within_hours) if within_hours else None
        body = await reports.overdue(scope, within)
        return answer(request, format, "overdue", body, lambda: overdue_sections(body))

    @get(
        "/hotspots",
        summary="Rising jurisdiction x category clusters and repeated addresses",
        raises=REPORT_ERRORS,
        opt=JSON_OR_CSV,
    )
    async def hotspots(
        self,
        request: Request[Principal, Any, Any],
        reports: ReportService,
        jurisdiction: JurisdictionParam = None,
        window_days: Annotated[int | None, Parameter(ge=1, le=366, required=False)] = None,
        top: Annotated[int | None, Parameter(ge=1, le=500, required=False)] = None,
        format: FormatParam = None,
    ) -> Response[Any]:
        scope = await resolve_scope(request.user, jurisdiction)
        body = await reports.hotspots(scope, window_days, top)
        return answer(
            request,
            format,
            "hotspots",
            body,
            lambda: [
                ("rising", body["rising"]),
                ("repeated addresses", body["repeated_addresses"]),
                ("exclusions", body["exclusions"]),
            ],
        )

    @get(
        "/timeline/{case_id:int}",
        summary="One case's clocks: started, extended, met or missed",
        raises=REPORT_ERRORS,
        opt=JSON_OR_CSV,
    )
    async def timeline(
        self,
        request: Request[Principal, Any, Any],
        reports: ReportService,
        case_id: int,
        format: FormatParam = None,
    ) -> Response[Any]:
        body = await reports.timeline(request.user, case_id)
        return answer(request, format, f"timeline-{case_id}", body, lambda: timeline_sections(body))

    @get(
        "/exclusions",
        summary="Every exclusion in the caller's scope",
        raises=REPORT_ERRORS,
        opt=JSON_OR_CSV,
    )
    async def list_exclusions(
        self,
        request: Request[Principal, Any, Any],
        reports: ReportService,
        jurisdiction: JurisdictionParam = None,
        format: FormatParam = None,
    ) -> Response[Any]:
        scope = await resolve_scope(request.user, jurisdiction)
        rows = await reports.exclusions(scope)
        return answer(request, format, "exclusions", rows, lambda: [("exclusions", rows)])

    @post(
        "/exclusions",
        status_code=HTTP_201_CREATED,
        guards=[require_roles("supervisor", "admin")],
        summary='Mark a case "unreasonable demand": left out of the rates, listed in every report',
        raises=REPORT_ERRORS,
    )
    async def exclude(
        self, request: Request[Principal, Any, Any], reports: ReportService, data: ExclusionCreate
    ) -> dict[str, Any]:
        return await reports.exclude(request.user, data.case_id, data.reason)


def overdue_sections(body: dict[str, Any]) -> Sections:
    levels = [{"level": level, **entry} for level, entries in body["by_level"].items() for entry in entries]
    clocks = [{"clock": clock, **counts} for clock, counts in body["by_clock"].items()]
    return [
        ("by level", levels),
        ("by clock", clocks),
        ("cases", body["cases"]),
        ("exclusions", body["exclusions"]),
    ]


def timeline_sections(body: dict[str, Any]) -> Sections:
    lists = ("extensions", "extension_requests", "extension_pending")
    clocks = [{k: v for k, v in clock.items() if k not in lists} for clock in body["clocks"]]
    extensions = [ext for clock in body["clocks"] for ext in clock.get("extensions", [])]
    requests = [req for clock in body["clocks"] for req in clock.get("extension_requests", [])]
    return [("clocks", clocks), ("extensions", extensions), ("extension requests", requests)]
