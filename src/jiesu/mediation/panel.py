"""The mediator panel: people's mediators and invited helpers, and a party's objection to a mediator."""

from __future__ import annotations

import json
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.accounts.tables import User
from jiesu.db import write_transaction
from jiesu.errors import field_error, forbidden
from jiesu.mediation import schemas as s
from jiesu.mediation.base import IN_MEDIATION, Room, Viewer, parties_of, recused_usernames
from jiesu.mediation.parties import party_of, require_all_consenting
from jiesu.mediation.tables import Mediator, Recusal
from jiesu.notify.outbox import enqueue


def mediator_out(row: dict[str, Any]) -> s.MediatorOut:
    return s.MediatorOut(**{**row, "consenting_party_ids": json.loads(row["consenting_party_ids"])})


class Panel(Room):
    async def add_mediator(self, actor: Principal, case_id: int, data: s.MediatorCreate) -> dict[str, Any]:
        now = self.now()
        async with self.managing(actor, case_id, IN_MEDIATION) as viewer:
            parties = await parties_of(case_id)
            if data.kind != "mediator" or data.appointed_by == "parties":
                require_all_consenting(parties, data.consenting_party_ids, "consenting_party_ids")
            name = data.name
            if data.kind == "mediator":
                display_name = await self._worker_name(case_id, data.username)
                name = name or display_name
            if not name:
                raise field_error("name", "give the name of the person joining")
            row = Mediator(
                case_id=case_id,
                kind=data.kind,
                username=data.username,
                name=name,
                appointed_by=data.appointed_by,
                status="active",
                consenting_party_ids=json.dumps(sorted(data.consenting_party_ids)),
                created_at=now,
            )
            await Mediator.insert(row)
            await self.event(
                viewer,
                "mediator_add",
                {
                    "mediator_id": row.id,
                    "kind": data.kind,
                    "username": data.username,
                    "appointed_by": data.appointed_by,
                    "consenting_party_ids": sorted(data.consenting_party_ids),
                },
                now,
            )
            if data.username:
                await enqueue(
                    topic="mediation.mediator_added",
                    case_id=case_id,
                    recipient=data.username,
                    payload={"case_id": case_id, "mediator_id": row.id},
                    at=now,
                )
            return row.to_dict()

    @staticmethod
    async def _worker_name(case_id: int, username: str | None) -> str:
        """The display name of an active worker who may join this case's panel."""
        if username is None:
            raise field_error("username", "a people's mediator is a jiesu worker: give the username")
        worker = User.role == "worker"
        user = (
            await User.select(User.display_name)
            .where((User.username == username) & worker & User.active.eq(True))
            .first()
        )
        if user is None:
            raise field_error("username", f"{username!r} is not an active worker")
        if username in await recused_usernames(case_id):
            raise field_error("username", "a party objected to this mediator on this case")
        taken = await Mediator.exists().where(
            (Mediator.case_id == case_id) & (Mediator.username == username) & (Mediator.status == "active")
        )
        if taken:
            raise field_error("username", "already on this case's panel")
        name: str = user["display_name"]
        return name

    async def recuse(self, actor: Principal, case_id: int, data: s.RecusalCreate) -> dict[str, Any]:
        """A party objects to a mediator: recorded, the mediator leaves, the case must be reassigned."""
        if (data.mediator_id is None) == (data.username is None):
            raise field_error("mediator_id", "name the mediator by mediator_id or by username (one of them)")
        now = self.now()
        async with write_transaction():
            viewer = await self.viewer(actor, case_id, lock=True)
            if not viewer.manager and data.party_id not in viewer.party_ids:
                raise forbidden("a party records only their own objection")
            self.require_state(viewer, IN_MEDIATION)
            await party_of(case_id, data.party_id)
            username = await self._leave_panel(viewer, data)
            objection = data.model_dump(include={"party_id", "mediator_id", "reason"})
            row = Recusal(case_id=case_id, username=username, recorded_by=actor.username, at=now, **objection)
            await Recusal.insert(row)
            reassign = username is not None and username == viewer.case.assignee
            await self.event(
                viewer,
                "mediator_recusal",
                {
                    "party_id": data.party_id,
                    "mediator_id": data.mediator_id,
                    "username": username,
                    "reason": data.reason,
                    "needs_reassignment": reassign,
                },
                now,
            )
            if reassign:
                await enqueue(
                    topic="mediation.reassignment_needed",
                    case_id=case_id,
                    recipient=None,  # the dispatchers of the case's jurisdiction
                    payload={"case_id": case_id, "tracking_no": viewer.case.tracking_no},
                    at=now,
                )
            return row.to_dict()

    @staticmethod
    async def _leave_panel(viewer: Viewer, data: s.RecusalCreate) -> str | None:
        """Mark the objected-to mediator recused; their username (None for a helper without one)."""
        panel = Mediator.case_id == viewer.case.inserted_id
        username = data.username
        if data.mediator_id is not None:
            row = await Mediator.select().where(panel & (Mediator.id == data.mediator_id)).first()
            if row is None or row["status"] != "active":
                raise field_error("mediator_id", "no active mediator with this id on this case")
            username = row["username"]
            target = Mediator.id == data.mediator_id
        else:
            on_panel = await Mediator.exists().where(
                panel & (Mediator.username == username) & (Mediator.status == "active")
            )
            if username != viewer.case.assignee and not on_panel:
                raise field_error("username", "not a mediator of this case")
            target = Mediator.username == username
        await Mediator.update({Mediator.status: "recused"}).where(panel & target)
        return username
