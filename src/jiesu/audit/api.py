from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from litestar import Controller, get
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.params import Parameter

from jiesu.accounts.auth import require_roles
from jiesu.audit.chain import Checkpoint, head_checkpoint, verify_chain, verify_with_checkpoint
from jiesu.errors import field_error

CHECKPOINT_PATTERN = "^[0-9]+:[0-9a-f]{64}$"  # SEQ:HASH, as Checkpoint.parse reads it


class AuditController(Controller):
    path = "/api/audit"
    tags = ["audit"]
    guards = [require_roles("supervisor", "admin")]

    @get(
        "/verify",
        summary="Recompute the hash chain; name the first broken event",
        raises=[NotAuthorizedException, PermissionDeniedException],
    )
    async def verify(
        self, checkpoint: Annotated[str | None, Parameter(pattern=CHECKPOINT_PATTERN)] = None
    ) -> dict[str, Any]:
        if checkpoint is None:
            return asdict(await verify_chain())
        try:
            parsed = Checkpoint.parse(checkpoint)
        except ValueError as exc:
            raise field_error("checkpoint", str(exc)) from exc
        return asdict(await verify_with_checkpoint(parsed))

    @get(
        "/checkpoint",
        summary="The head of the chain as SEQ:HASH, to keep elsewhere",
        raises=[NotAuthorizedException, PermissionDeniedException],
    )
    async def checkpoint(self) -> dict[str, Any]:
        head = await head_checkpoint()
        return {"seq": head.seq, "hash": head.hash, "checkpoint": str(head)}
