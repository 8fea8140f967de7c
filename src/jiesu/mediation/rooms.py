"""The rooms of mediation, built once at start-up, and their hooks into the case and the audit chain."""

from __future__ import annotations

from dataclasses import dataclass

from jiesu.cases.service import CaseService
from jiesu.mediation.agreements import Agreements
from jiesu.mediation.case_rules import CaseRules
from jiesu.mediation.config import MediationClocks
from jiesu.mediation.follow_up import FollowUp
from jiesu.mediation.integrity import register_with_audit
from jiesu.mediation.overview import Overview
from jiesu.mediation.panel import Panel
from jiesu.mediation.parties import Parties
from jiesu.mediation.sessions import Sessions


@dataclass(frozen=True)
class MediationRooms:
    parties: Parties
    panel: Panel
    sessions: Sessions
    agreements: Agreements
    follow_up: FollowUp
    overview: Overview
    case_rules: CaseRules


def install_mediation(cases: CaseService, clocks: MediationClocks) -> MediationRooms:
    """The rooms, with mediation's checks registered in CaseService's effect hooks and in audit."""
    rooms = MediationRooms(
        parties=Parties(cases, clocks),
        panel=Panel(cases, clocks),
        sessions=Sessions(cases, clocks),
        agreements=Agreements(cases, clocks),
        follow_up=FollowUp(cases, clocks),
        overview=Overview(cases, clocks),
        case_rules=CaseRules(cases, clocks),
    )
    cases.effect_hooks.append(rooms.case_rules.case_effects)
    register_with_audit()
    return rooms
