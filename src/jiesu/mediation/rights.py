"""What mediation keeps about people, for residents' rights (jiesu.rights): export and erasure.

Mediation keeps the parties' names, phones and addresses, invited helpers' names, recusal reasons and
session notes and places: all erased with the case. Written agreements are kept as they are: the People's
Mediation Law requires the mediation file to be kept, the parties signed their hash, and a court may be
asked to confirm them (PIPL art. 47: erasure yields to a retention duty set by law).
"""

from __future__ import annotations

from typing import Any

from jiesu.case_record import CaseRecord
from jiesu.mediation.tables import MediationParty, MediationSession, Mediator, Recusal
from jiesu.privacy import ERASED, DataSubject


async def erase_mediation(case: CaseRecord) -> None:
    case_id = case.id
    await MediationParty.update(
        {
            MediationParty.name: ERASED,
            MediationParty.phone: None,
            MediationParty.address: None,
            MediationParty.relationship: ERASED,
            MediationParty.username: None,
        }
    ).where(MediationParty.case_id == case_id)
    await Mediator.update({Mediator.name: ERASED}).where(
        (Mediator.case_id == case_id) & Mediator.username.is_null()  # invited private persons, not staff
    )
    await Recusal.update({Recusal.reason: ERASED}).where(Recusal.case_id == case_id)
    await MediationSession.update({MediationSession.place: ERASED}).where(MediationSession.case_id == case_id)
    await MediationSession.update({MediationSession.notes: ERASED}).where(
        (MediationSession.case_id == case_id) & MediationSession.notes.is_not_null()
    )


# What a resident's export holds of a session of their case (not the mediator's notes).
EXPORTED_SESSION_COLUMNS = tuple(
    getattr(MediationSession, name) for name in ("case_id", "status", "scheduled_at", "place", "held_at")
)


async def export_mediation(subject: DataSubject) -> dict[str, Any]:
    """The caller's own party records (in any case), and the sessions of the cases they filed."""
    username, case_ids = subject.username, subject.case_ids
    parties = (
        await MediationParty.select().where(MediationParty.username == username).order_by(MediationParty.id)
        if username
        else []
    )
    sessions = (
        await MediationSession.select(*EXPORTED_SESSION_COLUMNS)
        .where(MediationSession.case_id.is_in(case_ids or [0]))
        .order_by(MediationSession.id)
    )
    return {"parties": parties, "sessions": sessions}


async def unlink_mediation_user(username: str, _pseudonym: str) -> None:
    """A deleted account stops being linked to party records in other residents' cases.

    The names stay there while those cases run: the other side's mediation needs them.
    """
    await MediationParty.update({MediationParty.username: None}).where(MediationParty.username == username)
