from __future__ import annotations

from typing import Any

from litestar import Controller, Request, delete, get, post
from litestar.datastructures import State
from litestar.di import Provide
from litestar.status_codes import HTTP_200_OK

from jiesu.accounts.auth import require_roles
from jiesu.accounts.security import Principal
from jiesu.rights.service import RightsService


def provide_rights(state: State) -> RightsService:
    return state.rights


class MeController(Controller):
    path = "/api/me"
    tags = ["residents' rights"]
    dependencies = {"rights": Provide(provide_rights, sync_to_thread=False)}

    @get("/export", summary="Everything jiesu holds about the caller, as JSON")
    async def export(self, request: Request[Principal, Any, Any], rights: RightsService) -> dict[str, Any]:
        return await rights.export(request.user)

    @delete(
        "/",
        status_code=HTTP_200_OK,
        summary="Delete the caller's account and erase the personal data of their (closed) cases",
    )
    async def delete_me(self, request: Request[Principal, Any, Any], rights: RightsService) -> dict[str, Any]:
        return await rights.delete_account(request.user)


class RetentionController(Controller):
    path = "/api/retention"
    tags = ["residents' rights"]
    guards = [require_roles("admin")]
    dependencies = {"rights": Provide(provide_rights, sync_to_thread=False)}

    @post("/run", status_code=HTTP_200_OK, summary="Anonymise cases closed longer ago than the retention")
    async def run(self, rights: RightsService) -> dict[str, Any]:
        return {"anonymised": await rights.anonymise_expired(), "retention_days": rights.retention_days}
