"""GeoReport v2 under /open311/v2/, and the admin's API keys under /api/open311/keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import FormMultiDict, State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from jiesu.accounts.auth import require_roles
from jiesu.accounts.tables import Jurisdiction
from jiesu.cases.queries import case_by_tracking_no, is_closed, is_open, records
from jiesu.cases.schemas import CaseCreate, Contact
from jiesu.cases.service import CaseService
from jiesu.cases.tables import Case
from jiesu.errors import JiesuError
from jiesu.http_errors import as_http
from jiesu.limits.http import client_address
from jiesu.limits.input import ISO_TIME, parse_iso_time
from jiesu.limits.rate import count_request
from jiesu.open311.keys import KeyService
from jiesu.open311.mapping import (
    CHANGESET,
    SPEC_URL,
    attributes_of,
    definition_out,
    public_places,
    request_out,
    service_out,
)
from jiesu.open311.render import LIST, OBJECT, Open311Error, answers, error_response, respond, split_format
from jiesu.ops.logs import get_logger
from jiesu.routing.catalogue import Catalogue, Category

log = get_logger("jiesu.open311")
MAX_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
READ_WINDOW_SECONDS = 60
# Open311 clients send empty parameters for "not given": the document says so.
TIME_OR_EMPTY = {"oneOf": [*ISO_TIME["oneOf"], {"type": "string", "maxLength": 0}]}
# CaseCreate's fields under the names an Open311 client sent them.
FIELD_NAMES = {
    "contact.name": "first_name",
    "contact.phone": "phone",
    "address": "address_string",
    "description": "description",
    "title": "service_code",
}


def _error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if isinstance(exc, JiesuError):
        exc = as_http(exc)
    if isinstance(exc, ValidationException):
        return error_response(request.url.path, 400, str(exc.detail))
    if isinstance(exc, UnicodeDecodeError):  # Litestar's form parser decodes each field as UTF-8
        return error_response(request.url.path, 400, "body: a form field is not UTF-8 text")
    if isinstance(exc, HTTPException):
        return error_response(request.url.path, exc.status_code, str(exc.detail), exc.headers)
    return error_response(request.url.path, 500, "internal error")


def _parse_time(name: str, raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        value = parse_iso_time(raw.strip())
    except ValueError as exc:
        raise Open311Error(400, f"{name}: not a w3c date-time such as 2026-11-23T08:00:00Z") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _csv(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(",") if part.strip()]


async def _agencies() -> tuple[dict[str, str], dict[str, str]]:
    """Jurisdiction code → its name (the agency), and → the place a request publishes (its community)."""
    rows = await Jurisdiction.select(
        Jurisdiction.code, Jurisdiction.name, Jurisdiction.level, Jurisdiction.parent_code
    )
    return {row["code"]: row["name"] for row in rows}, public_places(rows)


async def _count_read(request: Request[Any, Any, Any]) -> None:
    """The public reads of cases are limited per client address (JIESU_OPEN311_READS_PER_MINUTE)."""
    per_minute: int = request.app.state.settings.open311_reads_per_minute
    if per_minute <= 0:
        return
    now = request.app.state.clock().timestamp()
    count, reset = await count_request(f"open311-read:{client_address(request)}", READ_WINDOW_SECONDS, now)
    if count > per_minute:
        raise Open311Error(
            429,
            f"too many requests from your address; at most {per_minute} a minute",
            {"Retry-After": str(max(1, reset - int(now)))},
        )


def _form_value(form: FormMultiDict, name: str) -> str | None:
    value = form.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None


class Open311Controller(Controller):
    path = "/open311/v2"
    tags = ["open311"]
    opt = {"allow_anonymous": True}
    exception_handlers = {
        HTTPException: _error_handler,
        JiesuError: _error_handler,
        Exception: _error_handler,
    }

    @get(["/discovery.json", "/discovery.xml"], summary="Open311 discovery", opt=answers(200, OBJECT))
    async def discovery(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        fmt = split_format(request.url.path)[1]
        base = str(request.base_url).rstrip("/") + "/open311/v2/"
        return respond(
            fmt,
            "discovery",
            {
                "changeset": CHANGESET,
                "contact": "the jiesu administrator of this city",
                "key_service": "API keys are issued by the administrator (POST /api/open311/keys)",
                "endpoints": [
                    {
                        "specification": SPEC_URL,
                        "url": base,
                        "changeset": CHANGESET,
                        "type": "production",
                        "formats": ["text/xml", "application/json"],
                    }
                ],
            },
        )

    @get(
        ["/services.json", "/services.xml"],
        summary="Service list (the category catalogue)",
        opt=answers(200, LIST),
    )
    async def services(
        self, request: Request[Any, Any, Any], jurisdiction_id: str | None = None
    ) -> Response[bytes]:
        catalogue: Catalogue = request.app.state.catalogue
        fmt = split_format(request.url.path)[1]
        return respond(fmt, "services", [service_out(c) for c in catalogue.categories])

    @get(
        "/services/{resource:str}",
        summary="Service definition: the attributes of one service",
        opt=answers(200, OBJECT),
    )
    async def service_definition(
        self, request: Request[Any, Any, Any], resource: str, jurisdiction_id: str | None = None
    ) -> Response[bytes]:
        code, fmt = split_format(resource)
        category = request.app.state.catalogue.get(code)
        if category is None:
            raise Open311Error(404, f"service_code: no service {code!r}")
        return respond(fmt, "service_definition", definition_out(category))

    @get(["/requests.json", "/requests.xml"], summary="Service requests, filtered", opt=answers(200, LIST))
    async def requests(
        self,
        request: Request[Any, Any, Any],
        service_request_id: str | None = None,
        service_code: str | None = None,
        start_date: Annotated[str | None, Parameter(required=False, schema_extra=TIME_OR_EMPTY)] = None,
        end_date: Annotated[str | None, Parameter(required=False, schema_extra=TIME_OR_EMPTY)] = None,
        status: str | None = None,
        jurisdiction_id: str | None = None,
    ) -> Response[bytes]:
        fmt = split_format(request.url.path)[1]
        await _count_read(request)
        query = Case.select()
        ids = _csv(service_request_id)
        if ids:  # the spec: other parameters are ignored when ids are given
            query = query.where(Case.tracking_no.is_in([i.upper() for i in ids[:MAX_RESULTS]]))
        else:
            query = self._filtered(query, request.app.state.cases.clock(), service_code, status)
            start, end = self._window(request.app.state.cases.clock(), start_date, end_date)
            query = query.where((Case.received_at >= start) & (Case.received_at <= end))
        rows = records(await query.order_by(Case.received_at, ascending=False).limit(MAX_RESULTS))
        agencies, places = await _agencies()
        catalogue = request.app.state.catalogue
        return respond(fmt, "service_requests", [request_out(r, catalogue, agencies, places) for r in rows])

    @staticmethod
    def _filtered(query: Any, now: datetime, service_code: str | None, status: str | None) -> Any:
        codes = _csv(service_code)
        if codes:
            query = query.where(Case.category.is_in(codes))
        statuses = set(_csv(status))
        if statuses - {"open", "closed"}:
            raise Open311Error(400, "status: must be open, closed or both")
        if statuses == {"open"}:
            query = query.where(is_open())
        elif statuses == {"closed"}:
            query = query.where(is_closed())
        return query

    @staticmethod
    def _window(now: datetime, start_raw: str | None, end_raw: str | None) -> tuple[datetime, datetime]:
        start, end = _parse_time("start_date", start_raw), _parse_time("end_date", end_raw)
        if start is None and end is None:
            end = now
        if start is None:
            start = end - MAX_WINDOW  # type: ignore[operator]
        if end is None:
            end = start + MAX_WINDOW
        if end < start:
            raise Open311Error(400, "end_date: must not be before start_date")
        if end - start > MAX_WINDOW:
            raise Open311Error(400, "end_date: start_date and end_date may be at most 90 days apart")
        return start, end

    @get("/requests/{resource:str}", summary="One service request", opt=answers(200, LIST))
    async def one_request(
        self, request: Request[Any, Any, Any], resource: str, jurisdiction_id: str | None = None
    ) -> Response[bytes]:
        request_id, fmt = split_format(resource)
        await _count_read(request)
        row = await case_by_tracking_no(request_id)
        if row is None:
            raise Open311Error(404, f"service_request_id: no request {request_id!r}")
        out = request_out(row, request.app.state.catalogue, *await _agencies())
        return respond(fmt, "service_requests", [out])

    @post(
        ["/requests.json", "/requests.xml"],
        summary="File a service request (form-encoded, api_key)",
        opt=answers(HTTP_201_CREATED, LIST),
    )
    async def file_request(self, request: Request[Any, Any, Any]) -> Response[bytes]:
        fmt = split_format(request.url.path)[1]
        form = await request.form()
        api_key = _form_value(form, "api_key")
        if not api_key:
            raise Open311Error(403, "api_key: an API key is required to file a request")
        keys: KeyService = request.app.state.open311_keys
        check = await keys.use(api_key)
        if check.key_id is None:
            raise Open311Error(403, "api_key: not a valid API key")
        if check.limited:
            raise Open311Error(
                429, "api_key: too many requests; try again later", {"Retry-After": str(check.retry_after)}
            )
        cases: CaseService = request.app.state.cases
        data = await self._case_from_form(form, request.app.state.catalogue)
        filed = await cases.file_case(None, data, channel="open311")
        case = filed.case
        log.info("open311.filed", key_id=check.key_id, case_id=case.id, service_code=case.category)
        due = case.response_due
        notice = f"received as {case.tracking_no}; a first contact is due by {due:%Y-%m-%d %H:%M} UTC"
        body = [{"service_request_id": case.tracking_no, "service_notice": notice, "account_id": None}]
        return respond(fmt, "service_requests", body, status_code=HTTP_201_CREATED)

    async def _case_from_form(self, form: FormMultiDict, catalogue: Catalogue) -> CaseCreate:
        code = _form_value(form, "service_code")
        if not code:
            raise Open311Error(400, "service_code: required")
        category = catalogue.get(code)
        if category is None:
            raise Open311Error(400, f"service_code: no service {code!r}")
        address = _form_value(form, "address_string") or _form_value(form, "address_id")
        lat, long = _form_value(form, "lat"), _form_value(form, "long")
        if not address and lat and long:
            address = f"{lat}, {long}"
        if not address:
            raise Open311Error(400, "address_string: a location is required (address_string or lat and long)")
        name = " ".join(p for p in (_form_value(form, "first_name"), _form_value(form, "last_name")) if p)
        if not name:
            raise Open311Error(400, "first_name: the name of the person to call back is required")
        phone = _form_value(form, "phone")
        if not phone:
            raise Open311Error(400, "phone: a phone number to call back is required")
        description = _form_value(form, "description")
        if not description:
            raise Open311Error(400, "description: required")
        extra = self._attribute_lines(form, category)
        jurisdiction_id = _form_value(form, "jurisdiction_id")
        known = jurisdiction_id and await Jurisdiction.exists().where(Jurisdiction.code == jurisdiction_id)
        try:
            return CaseCreate(
                kind="dispute" if category.dispute else "complaint",
                category=category.code,
                title=category.name,
                description="\n".join([description, *extra])[:10_000],
                address=address[:300],
                jurisdiction_code=jurisdiction_id if known else None,
                contact=Contact(name=name[:100], phone=phone),
            )
        except ValidationError as exc:
            first = exc.errors()[0]
            location = ".".join(str(p) for p in first["loc"])
            raise Open311Error(400, f"{FIELD_NAMES.get(location, location)}: {first['msg']}") from exc

    @staticmethod
    def _attribute_lines(form: FormMultiDict, category: Category) -> list[str]:
        lines = []
        for attribute in attributes_of(category):
            value = _form_value(form, f"attribute[{attribute['code']}]")
            field = f"attribute[{attribute['code']}]"
            if value is None:
                if attribute["required"]:
                    raise Open311Error(400, f"{field}: required for this service")
                continue
            allowed = {v["key"] for v in attribute.get("values", [])}
            if allowed and value not in allowed:
                raise Open311Error(400, f"{field}: must be one of {', '.join(sorted(allowed))}")
            lines.append(f"{attribute['description']} {value}")
        return lines


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class KeyIssued(BaseModel):
    id: int
    name: str
    api_key: str


class KeyOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None


def provide_keys(state: State) -> KeyService:
    return state.open311_keys


class Open311KeyController(Controller):
    path = "/api/open311/keys"
    tags = ["open311"]
    guards = [require_roles("admin")]
    dependencies = {"keys": Provide(provide_keys, sync_to_thread=False)}

    @post("/", status_code=HTTP_201_CREATED, summary="Issue an Open311 API key (shown once)")
    async def issue(self, data: KeyCreate, keys: KeyService) -> KeyIssued:
        key_id, api_key = await keys.issue(data.name)
        return KeyIssued(id=key_id, name=data.name, api_key=api_key)

    @get("/", summary="Open311 API keys (without the keys themselves)")
    async def list_keys(self, keys: KeyService) -> list[KeyOut]:
        return [KeyOut(**row) for row in await keys.list_keys()]

    @delete("/{key_id:int}", summary="Revoke an Open311 API key")
    async def revoke(self, key_id: Annotated[int, Parameter(ge=1)], keys: KeyService) -> None:
        await keys.revoke(key_id)
