from __future__ import annotations

from dataclasses import asdict
from typing import Any

from litestar import Controller, get
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException

from jiesu.accounts.security import require_roles
from jiesu.audit.chain import verify_chain


class AuditController(Controller):
    path = "/api/audit"
    tags = ["audit"]
    guards = [require_roles("supervisor", "admin")]

    @get(
        "/verify",
        summary="Recompute the hash chain; name the first broken event",
        raises=[NotAuthorizedException, PermissionDeniedException],
    )
    async def verify(self) -> dict[str, Any]:
        return asdict(await verify_chain())
