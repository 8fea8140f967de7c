from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import Parameter

from jiesu.accounts.auth import require_roles
from jiesu.audit.chain import head_checkpoint, verify
from jiesu.audit.keys import checkpoint_file_of
from jiesu.errors import field_error

CHECKPOINT_PATTERN = "^[0-9]+:[0-9a-f]{64}$"  # SEQ:HASH, as Checkpoint.parse reads it


class AuditController(Controller):
    path = "/api/audit"
    tags = ["audit"]
    guards = [require_roles("supervisor", "admin")]

    @get(
        "/verify",
        summary="Recompute the keyed chain and replay the rates' columns; name the first broken event",
        description="Checks against `checkpoint` (SEQ:HASH) when given, else against the latest signed "
        "checkpoint of the checkpoint file: the same findings as `jiesu audit verify`.",
        raises=[NotAuthorizedException, PermissionDeniedException],
    )
    async def verify(
        self,
        request: Request[Any, Any, Any],
        checkpoint: Annotated[str | None, Parameter(pattern=CHECKPOINT_PATTERN)] = None,
    ) -> dict[str, Any]:
        try:
            report = await verify(checkpoint, checkpoint_file_of(request.app.state.settings))
        except ValueError as exc:
            raise field_error("checkpoint", str(exc)) from exc
        return asdict(report)

    @get(
        "/checkpoint",
        summary="The head of the chain as SEQ:HASH, to keep elsewhere",
        raises=[NotAuthorizedException, PermissionDeniedException],
    )
    async def checkpoint(self) -> dict[str, Any]:
        head = await head_checkpoint()
        return {"seq": head.seq, "hash": head.hash, "checkpoint": str(head)}
