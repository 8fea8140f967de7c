from __future__ import annotations

from litestar import Controller, post
from litestar.datastructures import State

from jiesu.accounts.auth import require_roles


class SlaController(Controller):
    path = "/api/sla"
    tags = ["sla"]

    @post(
        "/sweep",
        status_code=200,
        guards=[require_roles("admin")],
        summary="Run one sweeper pass now (it also runs every minute inside the server)",
    )
    async def sweep(self, state: State) -> dict[str, int]:
        report: dict[str, int] = (await state.sweeper.sweep()).as_dict()
        return report
