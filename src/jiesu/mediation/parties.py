"""The parties to a mediation and their consent: mediation is voluntary for every applicant and respondent."""

from __future__ import annotations

from typing import Any

from jiesu.accounts.security import Principal
from jiesu.accounts.tables import User
from jiesu.db import write_transaction
from jiesu.errors import field_error, forbidden
from jiesu.mediation import schemas as s
from jiesu.mediation.base import BEFORE_AGREEMENT, PRINCIPAL_SIDES, Room, Viewer, parties_of
from jiesu.mediation.tables import MediationParty
from jiesu.privacy import mask_name, mask_phone


def blocking(parties: list[dict[str, Any]]) -> list[str]:
    """Why mediation cannot go on: it is voluntary for every applicant and respondent."""
    problems = [
        f"the case has no {side}" for side in PRINCIPAL_SIDES if not any(p["side"] == side for p in parties)
    ]
    problems += [
        f"{p['side']} #{p['id']} has {'not yet consented' if p['consent'] == 'pending' else p['consent']}"
        for p in parties
        if p["side"] in PRINCIPAL_SIDES and p["consent"] != "given"
    ]
    return problems


async def require_consent(room: Room, viewer: Viewer) -> list[dict[str, Any]]:
    """The case's parties, or a 409 while any applicant or respondent has not consented."""
    parties = await parties_of(viewer.case.inserted_id)
    problems = blocking(parties)
    if problems:
        raise room.conflict(viewer, "mediation needs the consent of every party: " + "; ".join(problems))
    return parties


def require_all_consenting(parties: list[dict[str, Any]], ids: list[int], field_name: str) -> None:
    """``ids`` names parties of the case, among them every applicant and respondent."""
    unknown = set(ids) - {p["id"] for p in parties}
    if unknown:
        raise field_error(field_name, f"no party {sorted(unknown)[0]} on this case")
    missing = [p["id"] for p in parties if p["side"] in PRINCIPAL_SIDES and p["id"] not in ids]
    if missing:
        raise field_error(field_name, f"every applicant and respondent must agree; missing {missing}")


async def party_of(case_id: int, party_id: int, field_name: str = "party_id") -> dict[str, Any]:
    row = (
        await MediationParty.select()
        .where((MediationParty.case_id == case_id) & (MediationParty.id == party_id))
        .first()
    )
    if row is None:
        raise field_error(field_name, f"no party {party_id} on this case")
    return row


def party_out(viewer: Viewer, party: dict[str, Any]) -> s.PartyOut:
    """Contacts: full for oneself, the assignee and dispatchers; masked for supervisors and the
    other parties; and never the applicant's for the respondent side."""
    own = party["id"] in viewer.party_ids
    contact: s.ContactView | None
    if own or viewer.full_contacts:
        contact = s.ContactView(phone=party["phone"], address=party["address"])
    elif party["side"] == "applicant" and "respondent" in viewer.sides and not viewer.manager:
        contact = None
    else:
        contact = s.ContactView(phone=mask_phone(party["phone"]) if party["phone"] else None, address=None)
    return s.PartyOut(
        id=party["id"],
        side=party["side"],
        name=party["name"] if viewer.manager or own or viewer.sides else mask_name(party["name"]),
        relationship=party["relationship"],
        username=party["username"],
        consent=party["consent"],
        consent_at=party["consent_at"],
        consent_channel=party["consent_channel"],
        contact=contact,
    )


class Parties(Room):
    async def add_party(self, actor: Principal, case_id: int, data: s.PartyCreate) -> dict[str, Any]:
        now = self.now()
        async with self.managing(actor, case_id, BEFORE_AGREEMENT) as viewer:
            if data.username is not None:
                await self._require_unlinked_resident(case_id, data.username)
            row = MediationParty(
                case_id=case_id,
                side=data.side,
                name=data.name,
                phone=data.phone,
                address=data.address,
                relationship=data.relationship,
                username=data.username,
                consent="pending",
                created_at=now,
            )
            await MediationParty.insert(row)
            await self.event(viewer, "party_add", {"party_id": row.id, "side": data.side}, now)
            return row.to_dict()

    @staticmethod
    async def _require_unlinked_resident(case_id: int, username: str) -> None:
        user = await User.select(User.role).where(User.username == username).first()
        if user is None or user["role"] != "resident":
            raise field_error("username", "not a registered resident")
        linked = await MediationParty.exists().where(
            (MediationParty.case_id == case_id) & (MediationParty.username == username)
        )
        if linked:
            raise field_error("username", "this resident is a party to the case already")

    async def record_consent(
        self, actor: Principal, case_id: int, party_id: int, data: s.ConsentRecord
    ) -> dict[str, Any]:
        """A party's consent to mediation, recorded by the mediator or given online by the party."""
        now = self.now()
        async with write_transaction():
            viewer = await self.viewer(actor, case_id, lock=True)
            if not viewer.manager and party_id not in viewer.party_ids:
                raise forbidden("a party records only their own consent")
            self.require_state(viewer, BEFORE_AGREEMENT)
            party = await party_of(case_id, party_id)
            channel = data.channel if viewer.manager else "online"
            await MediationParty.update(consent=data.status, consent_at=now, consent_channel=channel).where(
                MediationParty.id == party_id
            )
            await self.event(
                viewer,
                "party_consent",
                {
                    "party_id": party_id,
                    "side": party["side"],
                    "consent": data.status,
                    "channel": channel,
                    "note": data.note,
                },
                now,
            )
            return {**party, "consent": data.status, "consent_at": now, "consent_channel": channel}
