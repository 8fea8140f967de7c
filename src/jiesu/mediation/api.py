"""The mediation API under /api/cases/{id}/…, and the caller's follow-ups under /api/mediation."""

from __future__ import annotations

from typing import Any

import anyio
from litestar import Controller, MediaType, Request, Response, get, post, put
from litestar.datastructures import ResponseHeader, State
from litestar.di import Provide
from litestar.exceptions import NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.status_codes import HTTP_201_CREATED

from jiesu.accounts.security import Principal
from jiesu.http_errors import CaseConflict
from jiesu.mediation import schemas as s
from jiesu.mediation.agreements import signatures_for_document
from jiesu.mediation.documents import document_model, render_page, render_pdf
from jiesu.mediation.panel import mediator_out
from jiesu.mediation.parties import party_out
from jiesu.mediation.rooms import MediationRooms
from jiesu.mediation.sessions import session_out

Req = Request[Principal, Any, Any]
# The error answers declared in the OpenAPI schema (400 is declared by Litestar for handlers with input).
MEDIATION_ERRORS = [NotAuthorizedException, PermissionDeniedException, NotFoundException, CaseConflict]
FOLLOW_UP_ERRORS = [NotAuthorizedException, PermissionDeniedException]

# The printable agreement is personal data in HTML: no script, no outside resource, no framing. Its one
# inline <style> is the only thing the page may use.
AGREEMENT_PAGE_HEADERS = [
    ResponseHeader(
        name="Content-Security-Policy",
        value="default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    ResponseHeader(name="X-Content-Type-Options", value="nosniff"),
    ResponseHeader(name="Referrer-Policy", value="no-referrer"),
]


def provide_mediation(state: State) -> MediationRooms:
    rooms: MediationRooms = state.mediation
    return rooms


class MediationController(Controller):
    path = "/api/cases/{case_id:int}"
    tags = ["mediation"]
    dependencies = {"mediation": Provide(provide_mediation, sync_to_thread=False)}

    @get(
        "/mediation",
        summary="The mediation: parties, panel, sessions, agreement, clocks and countdowns",
        raises=MEDIATION_ERRORS,
    )
    async def summary(self, request: Req, case_id: int, mediation: MediationRooms) -> s.MediationSummary:
        return await mediation.overview.summary(request.user, case_id)

    @post(
        "/mediation/start",
        status_code=200,
        summary="Start mediation (every applicant and respondent consents)",
        raises=MEDIATION_ERRORS,
    )
    async def start(self, request: Req, case_id: int, mediation: MediationRooms) -> s.MediationSummary:
        await mediation.sessions.start(request.user, case_id)
        return await mediation.overview.summary(request.user, case_id)

    @post(
        "/mediation/extend",
        status_code=200,
        summary="Extend the mediation clock once, with the parties' consent",
        raises=MEDIATION_ERRORS,
    )
    async def extend(
        self, request: Req, case_id: int, data: s.ExtendClock, mediation: MediationRooms
    ) -> s.MediationSummary:
        await mediation.sessions.extend(request.user, case_id, data)
        return await mediation.overview.summary(request.user, case_id)

    @get(
        "/parties",
        summary="The parties, with contacts as far as the caller may see them",
        raises=MEDIATION_ERRORS,
    )
    async def parties(self, request: Req, case_id: int, mediation: MediationRooms) -> list[s.PartyOut]:
        return (await mediation.overview.summary(request.user, case_id)).parties

    @post(
        "/parties",
        status_code=HTTP_201_CREATED,
        summary="Add an applicant, respondent or third party",
        raises=MEDIATION_ERRORS,
    )
    async def add_party(
        self, request: Req, case_id: int, data: s.PartyCreate, mediation: MediationRooms
    ) -> s.PartyOut:
        row = await mediation.parties.add_party(request.user, case_id, data)
        return party_out(await mediation.parties.viewer(request.user, case_id), row)

    @post(
        "/parties/{party_id:int}/consent",
        status_code=200,
        summary="Record a party's consent to mediation",
        raises=MEDIATION_ERRORS,
    )
    async def consent(
        self, request: Req, case_id: int, party_id: int, data: s.ConsentRecord, mediation: MediationRooms
    ) -> s.PartyOut:
        row = await mediation.parties.record_consent(request.user, case_id, party_id, data)
        return party_out(await mediation.parties.viewer(request.user, case_id), row)

    @get(
        "/mediators",
        summary="The panel: mediators and invited relatives, neighbours, experts",
        raises=MEDIATION_ERRORS,
    )
    async def mediators(self, request: Req, case_id: int, mediation: MediationRooms) -> list[s.MediatorOut]:
        return (await mediation.overview.summary(request.user, case_id)).mediators

    @post(
        "/mediators",
        status_code=HTTP_201_CREATED,
        summary="Appoint a mediator or invite a helper",
        raises=MEDIATION_ERRORS,
    )
    async def add_mediator(
        self, request: Req, case_id: int, data: s.MediatorCreate, mediation: MediationRooms
    ) -> s.MediatorOut:
        return mediator_out(await mediation.panel.add_mediator(request.user, case_id, data))

    @post(
        "/recusals",
        status_code=HTTP_201_CREATED,
        summary="A party objects to a mediator",
        raises=MEDIATION_ERRORS,
    )
    async def recuse(
        self, request: Req, case_id: int, data: s.RecusalCreate, mediation: MediationRooms
    ) -> s.RecusalOut:
        return s.RecusalOut(**await mediation.panel.recuse(request.user, case_id, data))

    @get(
        "/sessions",
        summary="Sessions (a party sees those they attend and public ones)",
        raises=MEDIATION_ERRORS,
    )
    async def sessions(self, request: Req, case_id: int, mediation: MediationRooms) -> list[s.SessionOut]:
        return (await mediation.overview.summary(request.user, case_id)).sessions

    @post(
        "/sessions",
        status_code=HTTP_201_CREATED,
        summary="Schedule a session; attendees are notified",
        raises=MEDIATION_ERRORS,
    )
    async def schedule(
        self, request: Req, case_id: int, data: s.SessionCreate, mediation: MediationRooms
    ) -> s.SessionOut:
        row = await mediation.sessions.schedule(request.user, case_id, data)
        return session_out(await mediation.sessions.viewer(request.user, case_id), row)

    @post(
        "/sessions/{session_id:int}/hold",
        status_code=200,
        summary="Record a held session",
        raises=MEDIATION_ERRORS,
    )
    async def hold(
        self, request: Req, case_id: int, session_id: int, data: s.SessionHold, mediation: MediationRooms
    ) -> s.SessionOut:
        row = await mediation.sessions.hold(request.user, case_id, session_id, data)
        return session_out(await mediation.sessions.viewer(request.user, case_id), row)

    @post(
        "/sessions/{session_id:int}/postpone",
        status_code=200,
        summary="Postpone a session",
        raises=MEDIATION_ERRORS,
    )
    async def postpone(
        self,
        request: Req,
        case_id: int,
        session_id: int,
        data: s.SessionPostpone,
        mediation: MediationRooms,
    ) -> s.SessionOut:
        row = await mediation.sessions.postpone(request.user, case_id, session_id, data)
        return session_out(await mediation.sessions.viewer(request.user, case_id), row)

    @get(
        "/agreement",
        summary="The written agreement, its signatures, countdown and performance checks",
        raises=MEDIATION_ERRORS,
    )
    async def agreement(self, request: Req, case_id: int, mediation: MediationRooms) -> s.AgreementOut:
        _, agreement = await mediation.overview.agreement_for(request.user, case_id)
        return await mediation.overview.agreement(agreement)

    @put(
        "/agreement",
        summary="Draft or revise the agreement (409 once every party has signed)",
        raises=MEDIATION_ERRORS,
    )
    async def write_agreement(
        self, request: Req, case_id: int, data: s.AgreementWrite, mediation: MediationRooms
    ) -> s.AgreementOut:
        agreement = await mediation.agreements.write_agreement(request.user, case_id, data)
        return await mediation.overview.agreement(agreement)

    @post(
        "/agreement/signatures",
        status_code=HTTP_201_CREATED,
        summary="A party signs or accepts orally",
        raises=MEDIATION_ERRORS,
    )
    async def sign(
        self, request: Req, case_id: int, data: s.SignatureCreate, mediation: MediationRooms
    ) -> s.AgreementOut:
        agreement = await mediation.agreements.sign(request.user, case_id, data)
        return await mediation.overview.agreement(agreement)

    @post(
        "/agreement/confirmation",
        status_code=200,
        summary="The parties applied for judicial confirmation",
        raises=MEDIATION_ERRORS,
    )
    async def confirmation(
        self, request: Req, case_id: int, data: s.ConfirmationCreate, mediation: MediationRooms
    ) -> s.AgreementOut:
        await mediation.follow_up.record_confirmation(request.user, case_id, data)
        _, agreement = await mediation.overview.agreement_for(request.user, case_id)
        return await mediation.overview.agreement(agreement)

    @post(
        "/agreement/checks",
        status_code=HTTP_201_CREATED,
        summary="Record a performance check",
        raises=MEDIATION_ERRORS,
    )
    async def check(
        self, request: Req, case_id: int, data: s.CheckCreate, mediation: MediationRooms
    ) -> s.CheckOut:
        return s.CheckOut(**await mediation.follow_up.check_performance(request.user, case_id, data))

    @get(
        "/agreement/page",
        media_type=MediaType.HTML,
        response_headers=AGREEMENT_PAGE_HEADERS,
        summary="The agreement as a printable page",
        raises=MEDIATION_ERRORS,
        opt={"content": {200: {"text/html": {"type": "string"}}}},
    )
    async def page(self, request: Req, case_id: int, mediation: MediationRooms) -> str:
        _, agreement = await mediation.overview.agreement_for(request.user, case_id)
        model = document_model(agreement, await signatures_for_document(agreement))
        return render_page(model)

    @get(
        "/agreement/pdf",
        summary="The agreement as a PDF",
        raises=MEDIATION_ERRORS,
        opt={"content": {200: {"application/pdf": {"type": "string", "format": "binary"}}}},
    )
    async def pdf(self, request: Req, case_id: int, mediation: MediationRooms) -> Response[bytes]:
        _, agreement = await mediation.overview.agreement_for(request.user, case_id)
        model = document_model(agreement, await signatures_for_document(agreement))
        filename = f"agreement-{case_id}-{agreement['number']}.pdf"
        return Response(
            await anyio.to_thread.run_sync(render_pdf, model),
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{filename}"'},
        )


class FollowUpController(Controller):
    path = "/api/mediation"
    tags = ["mediation"]
    dependencies = {"mediation": Provide(provide_mediation, sync_to_thread=False)}

    @get(
        "/follow-ups",
        summary="Signed agreements in the caller's care: confirmation countdowns, checks due",
        raises=FOLLOW_UP_ERRORS,
    )
    async def follow_ups(self, request: Req, mediation: MediationRooms) -> list[s.FollowUp]:
        return await mediation.follow_up.follow_ups(request.user)
