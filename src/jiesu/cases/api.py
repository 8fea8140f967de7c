from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import (
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    TooManyRequestsException,
)
from litestar.params import Parameter
from litestar.status_codes import HTTP_201_CREATED

from jiesu.accounts.auth import issue_token, optional_principal, require_roles
from jiesu.accounts.lockout import TRACK, Throttle
from jiesu.accounts.security import Principal
from jiesu.case_record import CaseRecord
from jiesu.cases.queries import CaseFilter, case_events, case_listing, flagged_cases, work_queue
from jiesu.cases.schemas import (
    CaseCreate,
    CaseOut,
    CasePage,
    ContactOut,
    Deadlines,
    EventOut,
    ExtensionRequestOut,
    FiledCaseOut,
    TrackRequest,
    TrackResponse,
)
from jiesu.cases.service import CaseService, decode_cursor, encode_cursor
from jiesu.http_errors import OPEN_TO_ANONYMOUS, AccountLocked, CaseConflict, Unprocessable
from jiesu.limits.http import client_address
from jiesu.limits.input import MAX_ID
from jiesu.privacy import mask_name, mask_phone
from jiesu.routing.router import routing_summary
from jiesu.sla.extensions import pending_request

# Roles that need to reach the filer: the dispatcher calls back, the assignee makes first contact.
UNMASKED_ROLES = {"dispatcher"}
CaseOutT = TypeVar("CaseOutT", bound=CaseOut)
CaseId = Annotated[int, Parameter(ge=1, le=MAX_ID)]


def provide_cases(state: State) -> CaseService:
    cases: CaseService = state.cases
    return cases


def case_model(
    service: CaseService,
    actor: Principal,
    case: CaseRecord,
    now: datetime,
    model: type[CaseOutT] = CaseOut,  # type: ignore[assignment]
    **extra: Any,
) -> CaseOutT:
    """The case as ``actor`` may see it: contact masked unless they need it, the actions open to them."""
    sees_contact = actor.role in UNMASKED_ROLES or bool(
        {"filer", "assignee"} & service.relations(actor, case)
    )
    name, phone = case.contact_name, case.contact_phone
    due = case.due_at
    pending = pending_request(case)
    return model(
        **{k: getattr(case, k) for k in CaseOut.model_fields if hasattr(case, k)},
        contact=ContactOut(
            name=name if sees_contact else mask_name(name),
            phone=phone if sees_contact else mask_phone(phone),
        ),
        deadlines=Deadlines(
            response_due=case.response_due,
            resolution_due=case.resolution_due,
            feedback_due=case.feedback_due,
            current=due,
        ),
        overdue=due is not None and due < now,
        extension_request=ExtensionRequestOut(**pending) if pending else None,
        allowed_actions=service.allowed_actions(actor, case),
        **extra,
    )


def case_out(service: CaseService, actor: Principal, case: CaseRecord, now: datetime) -> dict[str, Any]:
    """``case_model`` as a dict, for the pages."""
    return case_model(service, actor, case, now).model_dump()


class CaseController(Controller):
    path = "/api/cases"
    tags = ["cases"]
    dependencies = {"cases": Provide(provide_cases, sync_to_thread=False)}

    @post(
        "/",
        opt={"allow_anonymous": True},
        status_code=HTTP_201_CREATED,
        summary="File a case (resident, hotline dispatcher, or anonymous with contact details)",
        security=OPEN_TO_ANONYMOUS,
        raises=[NotAuthorizedException, PermissionDeniedException, Unprocessable, TooManyRequestsException],
    )
    async def file(
        self,
        request: Request[Any, Any, Any],
        data: CaseCreate,
        cases: CaseService,
        idempotency_key: Annotated[
            str | None, Parameter(header="Idempotency-Key", max_length=200, required=False)
        ] = None,
    ) -> FiledCaseOut:
        actor = await optional_principal(request)
        filed = await cases.file_case(actor, data, idempotency_key)
        case_id = filed.case.inserted_id
        # Only the answer that filed the case speaks to its filer; a replay of the Idempotency-Key
        # shows an anonymous caller the case as anyone sees it: contact masked, no access code.
        viewer = actor or (
            Principal(username="", role="filer", case_id=case_id)
            if filed.created
            else Principal(username="", role="anonymous")
        )
        routing = filed.routing or await routing_summary(case_id)
        return case_model(
            cases,
            viewer,
            filed.case,
            cases.clock(),
            FiledCaseOut,
            access_code=filed.access_code,
            routing=routing,
            replayed=not filed.created,
        )

    @get(
        "/",
        summary="Cases the caller may see, newest first, with cursor pagination",
        raises=[NotAuthorizedException],
    )
    async def list_cases(
        self,
        request: Request[Principal, Any, Any],
        cases: CaseService,
        state_filter: Annotated[str | None, Parameter(query="state")] = None,
        assignee: str | None = None,
        jurisdiction: str | None = None,
        category: str | None = None,
        overdue: bool | None = None,
        cursor: str | None = None,
        limit: Annotated[int, Parameter(ge=1, le=100)] = 50,
    ) -> CasePage:
        actor = request.user
        now = cases.clock()
        before_id = decode_cursor(cursor) if cursor else None
        wanted = CaseFilter(state_filter, assignee, jurisdiction, category, overdue, before_id)
        rows = await case_listing(actor, wanted, now, limit + 1)
        items: list[CaseOut] = [case_model(cases, actor, row, now) for row in rows[:limit]]
        next_cursor = encode_cursor(rows[limit - 1].inserted_id) if len(rows) > limit else None
        return CasePage(items=items, next_cursor=next_cursor)

    @get(
        "/{case_id:int}",
        summary="One case, with the actions the caller may take now",
        raises=[NotAuthorizedException, NotFoundException],
    )
    async def get_case(
        self, request: Request[Principal, Any, Any], case_id: CaseId, cases: CaseService
    ) -> CaseOut:
        case = await cases.get_visible(request.user, case_id)
        return case_model(cases, request.user, case, cases.clock())

    @get(
        "/{case_id:int}/events",
        summary="The case's audit timeline",
        raises=[NotAuthorizedException, NotFoundException],
    )
    async def events(
        self, request: Request[Principal, Any, Any], case_id: CaseId, cases: CaseService
    ) -> list[EventOut]:
        await cases.get_visible(request.user, case_id)
        return [EventOut.model_validate(event) for event in await case_events(request.user, case_id)]

    @post(
        "/{case_id:int}/actions/{action:str}",
        status_code=200,
        summary="Fire an action: body {version, …fields}",
        raises=[NotAuthorizedException, PermissionDeniedException, NotFoundException, CaseConflict],
    )
    async def act(
        self,
        request: Request[Principal, Any, Any],
        case_id: CaseId,
        action: str,
        data: dict[str, Any],
        cases: CaseService,
    ) -> CaseOut:
        case = await cases.act(request.user, case_id, action, data)
        return case_model(cases, request.user, case, cases.clock())


class QueueController(Controller):
    path = "/api/queue"
    tags = ["cases"]
    dependencies = {"cases": Provide(provide_cases, sync_to_thread=False)}

    @get(
        "/",
        summary="The caller's work: urgent first, then the nearest deadline (the order of /web/work)",
        raises=[NotAuthorizedException],
    )
    async def queue(
        self,
        request: Request[Principal, Any, Any],
        cases: CaseService,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 100,
        claimable: Annotated[
            bool, Parameter(description="a worker's queue also lists the unassigned cases they may claim")
        ] = False,
    ) -> list[CaseOut]:
        actor = request.user
        rows = await work_queue(actor, limit, with_claimable=claimable)
        now = cases.clock()
        items: list[CaseOut] = [case_model(cases, actor, row, now) for row in rows]
        briefs = await request.app.state.mediation.overview.briefs(rows)
        for item in items:
            item.mediation = briefs.get(item.id)
        return items


class TrackController(Controller):
    path = "/api/track"
    tags = ["cases"]
    dependencies = {"cases": Provide(provide_cases, sync_to_thread=False)}

    @post(
        "/",
        status_code=200,
        summary="Exchange a tracking number and access code for a token",
        security=OPEN_TO_ANONYMOUS,
        raises=[NotFoundException, AccountLocked],
    )
    async def track(
        self, request: Request[Any, Any, Any], data: TrackRequest, cases: CaseService
    ) -> TrackResponse:
        throttle: Throttle = request.app.state.throttle
        case = await throttle.guard(
            TRACK,
            data.tracking_no.strip().upper(),
            client_address(request),
            lambda: cases.find_by_access_code(data.tracking_no, data.access_code),
        )
        if case is None:
            raise NotFoundException("no case with this tracking number and access code")
        principal = Principal(username=f"case-{case.id}", role="filer", case_id=case.inserted_id)
        return TrackResponse(
            case_id=case.inserted_id, access_token=issue_token(request.app.state.jwt_auth, principal)
        )


FLAGGED_LIMIT = 200


@get(
    "/api/routing/flagged",
    tags=["routing"],
    dependencies={"cases": Provide(provide_cases, sync_to_thread=False)},
    guards=[require_roles("dispatcher", "supervisor", "admin")],
    summary="Cases the router could not place or that came back: the dispatchers' attention list",
)
async def flagged_cases_list(request: Request[Principal, Any, Any], cases: CaseService) -> list[CaseOut]:
    """A listing of cases, so it lives with the cases; what is flagged is the router's (``jiesu.routing``)."""
    rows = await flagged_cases(request.user, FLAGGED_LIMIT)
    now = cases.clock()
    return [case_model(cases, request.user, row, now) for row in rows]
