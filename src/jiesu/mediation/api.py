"""The mediation API under /api/cases/{id}/…, and the caller's follow-ups under /api/mediation."""

from __future__ import annotations

from typing import Any

import anyio
from litestar import Controller, MediaType, Request, Response, get, post, put
from litestar.datastructures import State
from litestar.di import Provide
from litestar.status_codes import HTTP_201_CREATED

from jiesu.accounts.security import Principal
from jiesu.mediation import schemas as s
from jiesu.mediation.documents import document_model, render_page, render_pdf
from jiesu.mediation.service import MediationService

Req = Request[Principal, Any, Any]


def provide_mediation(state: State) -> MediationService:
    return state.mediation


class MediationController(Controller):
    path = "/api/cases/{case_id:int}"
    tags = ["mediation"]
    dependencies = {"mediation": Provide(provide_mediation, sync_to_thread=False)}

    @get("/mediation", summary="The mediation: parties, panel, sessions, agreement, clocks and countdowns")
    async def summary(self, request: Req, case_id: int, mediation: MediationService) -> s.MediationSummary:
        return await mediation.summary(request.user, case_id)

    @post(
        "/mediation/start",
        status_code=200,
        summary="Start mediation (every applicant and respondent consents)",
    )
    async def start(self, request: Req, case_id: int, mediation: MediationService) -> s.MediationSummary:
        await mediation.start(request.user, case_id)
        return await mediation.summary(request.user, case_id)

    @post(
        "/mediation/extend",
        status_code=200,
        summary="Extend the mediation clock once, with the parties' consent",
    )
    async def extend(
        self, request: Req, case_id: int, data: s.ExtendClock, mediation: MediationService
    ) -> s.MediationSummary:
        await mediation.extend(request.user, case_id, data)
        return await mediation.summary(request.user, case_id)

    @get("/parties", summary="The parties, with contacts as far as the caller may see them")
    async def parties(self, request: Req, case_id: int, mediation: MediationService) -> list[s.PartyOut]:
        return (await mediation.summary(request.user, case_id)).parties

    @post("/parties", status_code=HTTP_201_CREATED, summary="Add an applicant, respondent or third party")
    async def add_party(
        self, request: Req, case_id: int, data: s.PartyCreate, mediation: MediationService
    ) -> s.PartyOut:
        row = await mediation.add_party(request.user, case_id, data)
        return mediation.party_out(await mediation.viewer(request.user, case_id), row)

    @post("/parties/{party_id:int}/consent", status_code=200, summary="Record a party's consent to mediation")
    async def consent(
        self, request: Req, case_id: int, party_id: int, data: s.ConsentRecord, mediation: MediationService
    ) -> s.PartyOut:
        row = await mediation.record_consent(request.user, case_id, party_id, data)
        return mediation.party_out(await mediation.viewer(request.user, case_id), row)

    @get("/mediators", summary="The panel: mediators and invited relatives, neighbours, experts")
    async def mediators(self, request: Req, case_id: int, mediation: MediationService) -> list[s.MediatorOut]:
        return (await mediation.summary(request.user, case_id)).mediators

    @post("/mediators", status_code=HTTP_201_CREATED, summary="Appoint a mediator or invite a helper")
    async def add_mediator(
        self, request: Req, case_id: int, data: s.MediatorCreate, mediation: MediationService
    ) -> s.MediatorOut:
        return mediation.mediator_out(await mediation.add_mediator(request.user, case_id, data))

    @post("/recusals", status_code=HTTP_201_CREATED, summary="A party objects to a mediator")
    async def recuse(
        self, request: Req, case_id: int, data: s.RecusalCreate, mediation: MediationService
    ) -> s.RecusalOut:
        return s.RecusalOut(**await mediation.recuse(request.user, case_id, data))

    @get("/sessions", summary="Sessions (a party sees those they attend and public ones)")
    async def sessions(self, request: Req, case_id: int, mediation: MediationService) -> list[s.SessionOut]:
        return (await mediation.summary(request.user, case_id)).sessions

    @post("/sessions", status_code=HTTP_201_CREATED, summary="Schedule a session; attendees are notified")
    async def schedule(
        self, request: Req, case_id: int, data: s.SessionCreate, mediation: MediationService
    ) -> s.SessionOut:
        row = await mediation.schedule(request.user, case_id, data)
        return mediation.session_out(await mediation.viewer(request.user, case_id), row)

    @post("/sessions/{session_id:int}/hold", status_code=200, summary="Record a held session")
    async def hold(
        self, request: Req, case_id: int, session_id: int, data: s.SessionHold, mediation: MediationService
    ) -> s.SessionOut:
        row = await mediation.hold(request.user, case_id, session_id, data)
        return mediation.session_out(await mediation.viewer(request.user, case_id), row)

    @post("/sessions/{session_id:int}/postpone", status_code=200, summary="Postpone a session")
    async def postpone(
        self,
        request: Req,
        case_id: int,
        session_id: int,
        data: s.SessionPostpone,
        mediation: MediationService,
    ) -> s.SessionOut:
        row = await mediation.postpone(request.user, case_id, session_id, data)
        return mediation.session_out(await mediation.viewer(request.user, case_id), row)

    @get("/agreement", summary="The written agreement, its signatures, countdown and performance checks")
    async def agreement(self, request: Req, case_id: int, mediation: MediationService) -> s.AgreementOut:
        _, agreement = await mediation.agreement_for(request.user, case_id)
        return await mediation.agreement_out(agreement, mediation.now())

    @put("/agreement", summary="Draft or revise the agreement (409 once every party has signed)")
    async def write_agreement(
        self, request: Req, case_id: int, data: s.AgreementWrite, mediation: MediationService
    ) -> s.AgreementOut:
        agreement = await mediation.write_agreement(request.user, case_id, data)
        return await mediation.agreement_out(agreement, mediation.now())

    @post("/agreement/signatures", status_code=HTTP_201_CREATED, summary="A party signs or accepts orally")
    async def sign(
        self, request: Req, case_id: int, data: s.SignatureCreate, mediation: MediationService
    ) -> s.AgreementOut:
        agreement = await mediation.sign(request.user, case_id, data)
        return await mediation.agreement_out(agreement, mediation.now())

    @post("/agreement/confirmation", status_code=200, summary="The parties applied for judicial confirmation")
    async def confirmation(
        self, request: Req, case_id: int, data: s.ConfirmationCreate, mediation: MediationService
    ) -> s.AgreementOut:
        await mediation.record_confirmation(request.user, case_id, data)
        _, agreement = await mediation.agreement_for(request.user, case_id)
        return await mediation.agreement_out(agreement, mediation.now())

    @post("/agreement/checks", status_code=HTTP_201_CREATED, summary="Record a performance check")
    async def check(
        self, request: Req, case_id: int, data: s.CheckCreate, mediation: MediationService
    ) -> s.CheckOut:
        return s.CheckOut(**await mediation.check_performance(request.user, case_id, data))

    @get("/agreement/page", media_type=MediaType.HTML, summary="The agreement as a printable page")
    async def page(self, request: Req, case_id: int, mediation: MediationService) -> str:
        _, agreement = await mediation.agreement_for(request.user, case_id)
        model = document_model(agreement, await mediation.signatures_for_document(agreement))
        return render_page(model)

    @get("/agreement/pdf", summary="The agreement as a PDF")
    async def pdf(self, request: Req, case_id: int, mediation: MediationService) -> Response[bytes]:
        _, agreement = await mediation.agreement_for(request.user, case_id)
        model = document_model(agreement, await mediation.signatures_for_document(agreement))
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

    @get("/follow-ups", summary="Signed agreements in the caller's care: confirmation countdowns, checks due")
    async def follow_ups(self, request: Req, mediation: MediationService) -> list[s.FollowUp]:
        return await mediation.follow_ups(request.user)
