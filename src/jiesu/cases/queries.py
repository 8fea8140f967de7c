"""The case listings, in one place for the API and the pages: what an actor may see, the work queue,
a resident's own cases, open and closed. States come from the workflow (``STATES``), never literals."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from piccolo.custom_types import Combinable

from jiesu.accounts.security import Principal
from jiesu.accounts.service import find_jurisdiction
from jiesu.audit.tables import CaseEvent
from jiesu.audit.texts import reveal_events
from jiesu.case_record import CaseRecord
from jiesu.cases.tables import Case
from jiesu.db import starts_with
from jiesu.routing.router import flagged_case_ids
from jiesu.workflow import STATES

DESK_ROLES = ("dispatcher", "supervisor", "admin")  # their queue is what waits on the desk
# A flagged case needs the desk until someone handles it.
FLAGGED_STATES = (STATES.intake, STATES.triage, STATES.mediation)


# ---- one case ------------------------------------------------------------------------------------


def records(rows: list[dict[str, Any]]) -> list[CaseRecord]:
    return [CaseRecord.from_row(row) for row in rows]


async def case_by_id(case_id: int | None) -> CaseRecord | None:
    row = await Case.select().where(Case.id == case_id).first() if case_id is not None else None
    return CaseRecord.from_row(row) if row else None


async def case_by_tracking_no(tracking_no: str) -> CaseRecord | None:
    row = await Case.select().where(Case.tracking_no == tracking_no.upper()).first()
    return CaseRecord.from_row(row) if row else None


# ---- who may see what ---------------------------------------------------------------------------


def can_see(actor: Principal, case: CaseRecord) -> bool:
    """``visible_to`` for one case in memory."""
    if actor.role == "admin":
        return True
    if actor.role == "filer":
        return bool(actor.case_id == case.id)
    if actor.role == "resident":
        return bool(case.filer == actor.username)
    if actor.role == "worker" and case.assignee == actor.username:
        return True
    if actor.role in ("worker", "dispatcher", "supervisor"):
        return actor.in_scope(case.jurisdiction_path)
    return False


def visible_to(actor: Principal) -> Combinable:
    """The WHERE clause that limits a listing to the cases ``actor`` may see (``can_see`` in SQL)."""
    if actor.role == "admin":
        return Case.id > 0
    if actor.role == "filer":
        return Case.id == (actor.case_id or 0)
    if actor.role == "resident":
        return Case.filer == actor.username
    if actor.jurisdiction_path is None:
        return Case.id > 0 if actor.role != "worker" else Case.assignee == actor.username
    in_subtree = starts_with(Case.jurisdiction_path, actor.jurisdiction_path)
    if actor.role == "worker":
        return in_subtree | (Case.assignee == actor.username)
    return in_subtree


# ---- the timeline ---------------------------------------------------------------------------------

# What the filer (the resident, or the holder of the access code) reads of each event: the fields the
# case page tells them, by action. Everything else (actor names, staff notes, escalation reasons,
# departments, mediation details) is for staff only. The API and the pages both read events through
# ``case_events``, so neither shows a filer more than the other.
FILER_FIELDS: dict[str, tuple[str, ...]] = {
    "accept": ("jurisdiction_code",),
    "transfer": ("jurisdiction_code",),
    "dispatch": ("assignee",),
    "reassign": ("assignee",),
    "claim": ("assignee",),
    "extend": ("until",),
    "resolve": ("outcome", "summary"),
    "reject": ("reason",),
    "rate": ("satisfaction", "comment"),
    "add_info": ("note",),
}


def filer_view(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` (fields parsed) as a filer may read it: no actor, only the fields in FILER_FIELDS.

    The worker who claims a case is named as its assignee, as the page names the handler."""
    fields = dict(event["fields"])
    if event["action"] == "claim":
        fields.setdefault("assignee", event["actor"])
    shown = FILER_FIELDS.get(event["action"], ())
    return {**event, "actor": None, "fields": {k: v for k, v in fields.items() if k in shown}}


async def case_events(actor: Principal, case_id: int) -> list[dict[str, Any]]:
    """The case's events in order, fields parsed and personal text in place; redacted by
    ``filer_view`` for anyone who is not staff. The caller has checked ``actor`` may see the case."""
    rows = await CaseEvent.select().where(CaseEvent.case_id == case_id).order_by(CaseEvent.seq)
    rows = await reveal_events(rows)  # personal text is kept beside the append-only log
    events = [{**row, "fields": json.loads(row["fields"])} for row in rows]
    return events if actor.is_staff else [filer_view(event) for event in events]


# ---- open and closed ----------------------------------------------------------------------------


def is_open() -> Combinable:
    return Case.state.not_in(list(STATES.final))


def is_closed() -> Combinable:
    return Case.state.is_in(list(STATES.final))


def overdue_at(now: datetime) -> Combinable:
    """Open cases whose current deadline has passed."""
    return (Case.due_at < now) & is_open()


def on_time_at(now: datetime) -> Combinable:
    """Every case ``overdue_at`` leaves out."""
    return (Case.due_at >= now) | Case.due_at.is_null() | is_closed()


# ---- the work queue -----------------------------------------------------------------------------


def queue_clause(actor: Principal, with_claimable: bool) -> Combinable:
    """The cases in ``actor``'s queue: a worker's own cases (and, ``with_claimable``, the unassigned ones
    they may claim), what waits on the desk for dispatchers and supervisors, anyone else's open cases."""
    if actor.role == "worker":
        mine = (Case.assignee == actor.username) & Case.state.is_in(list(STATES.worker_queue))
        if not with_claimable:
            return mine
        claimable = Case.assignee.is_null() & Case.state.is_in(list(STATES.claimable))
        return mine | (claimable & visible_to(actor))
    if actor.role in DESK_ROLES:
        return visible_to(actor) & Case.state.is_in(list(STATES.dispatcher_queue))
    return visible_to(actor) & is_open()


async def work_queue(actor: Principal, limit: int, with_claimable: bool = False) -> list[CaseRecord]:
    """``actor``'s queue in the order dispatchers work it: urgent first, then the nearest deadline, then
    the oldest case. ``priority`` descending puts ``urgent`` before ``normal``."""
    cases = records(
        await Case.select()
        .where(queue_clause(actor, with_claimable))
        .order_by(Case.priority, ascending=False)
        .order_by(Case.due_at)
        .order_by(Case.id)
        .limit(limit)
    )
    if actor.role != "worker":
        return cases
    # A claimable case must be in the worker's subtree by the path itself.
    return [case for case in cases if case.assignee or actor.in_scope(case.jurisdiction_path)]


# ---- listings -----------------------------------------------------------------------------------


async def filed_by(username: str) -> list[CaseRecord]:
    """A resident's own cases, newest first."""
    return records(await Case.select().where(Case.filer == username).order_by(Case.id, ascending=False))


@dataclass(frozen=True)
class CaseFilter:
    state: str | None = None
    assignee: str | None = None
    jurisdiction: str | None = None  # a code anywhere on the case's path
    category: str | None = None
    overdue: bool | None = None
    before_id: int | None = None  # the cursor: cases older than this one


async def case_listing(actor: Principal, wanted: CaseFilter, now: datetime, limit: int) -> list[CaseRecord]:
    """The cases ``actor`` may see that match ``wanted``, newest first, at most ``limit``."""
    query = Case.select().where(visible_to(actor))
    if wanted.state:
        query = query.where(Case.state == wanted.state)
    if wanted.assignee:
        query = query.where(Case.assignee == wanted.assignee)
    if wanted.category:
        query = query.where(Case.category == wanted.category)
    if wanted.jurisdiction:
        # a code is unique, so the cases with it on their path are its subtree
        place = await find_jurisdiction(wanted.jurisdiction)
        if place is None:
            return []
        query = query.where(starts_with(Case.jurisdiction_path, place["path"]))
    if wanted.overdue is not None:
        query = query.where(overdue_at(now) if wanted.overdue else on_time_at(now))
    if wanted.before_id:
        query = query.where(Case.id < wanted.before_id)
    return records(await query.order_by(Case.id, ascending=False).limit(limit))


async def flagged_cases(actor: Principal, limit: int) -> list[CaseRecord]:
    """The open cases the router could not place or that came back, that ``actor`` may see, nearest
    deadline first."""
    return records(
        await Case.select()
        .where(visible_to(actor))
        .where(Case.state.is_in(list(FLAGGED_STATES)))
        .where(Case.id.is_in(flagged_case_ids()))
        .order_by(Case.due_at)
        .limit(limit)
    )
