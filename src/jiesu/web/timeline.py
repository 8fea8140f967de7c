"""The case's audit events told as plain sentences, for the person reading the case page."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jiesu.accounts.tables import Jurisdiction, User
from jiesu.audit.tables import CaseEvent
from jiesu.audit.texts import reveal_events
from jiesu.case_record import CaseRecord
from jiesu.web.labels import CHOICES, EVENTS

# Free text that the filer may read back on the timeline; staff see every note.
FILER_VISIBLE_TEXT = {"add_info": "note", "resolve": "summary", "reject": "reason", "rate": "comment"}
STAFF_TEXT = ("note", "reason", "summary", "comment", "department")


@dataclass(frozen=True)
class Entry:
    at: datetime
    text: str
    detail: str | None
    actor: str | None


async def names_of(usernames: set[str]) -> dict[str, str]:
    if not usernames:
        return {}
    rows = await User.select(User.username, User.display_name).where(User.username.is_in(list(usernames)))
    return {r["username"]: r["display_name"] for r in rows}


async def place_names(codes: set[str]) -> dict[str, str]:
    if not codes:
        return {}
    rows = await Jurisdiction.select(Jurisdiction.code, Jurisdiction.name).where(
        Jurisdiction.code.is_in(list(codes))
    )
    return {r["code"]: r["name"] for r in rows}


async def build_timeline(
    case: CaseRecord, staff: bool, gettext: Callable[[str], str], when: Callable[[Any], str]
) -> list[Entry]:
    rows = await CaseEvent.select().where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)
    rows = await reveal_events(rows)  # personal text is kept beside the append-only log
    events = [{**r, "fields": json.loads(r["fields"])} for r in rows]
    people = await names_of({e["actor"] for e in events} | _assignees(events))
    places = await place_names(
        {str(e["fields"].get("jurisdiction_code")) for e in events if e["fields"].get("jurisdiction_code")}
        | ({case.jurisdiction_code} if case.jurisdiction_code else set())
    )
    return [_entry(case, e, staff, gettext, when, people, places) for e in events]


def _assignees(events: list[dict[str, Any]]) -> set[str]:
    return {str(e["fields"]["assignee"]) for e in events if e["fields"].get("assignee")}


def _entry(
    case: CaseRecord,
    event: dict[str, Any],
    staff: bool,
    gettext: Callable[[str], str],
    when: Callable[[Any], str],
    people: dict[str, str],
    places: dict[str, str],
) -> Entry:
    fields = event["fields"]
    action = event["action"]
    who = fields.get("assignee") or (event["actor"] if action == "claim" else "")
    place_code = fields.get("jurisdiction_code") or case.jurisdiction_code or ""
    values = {
        "who": people.get(str(who), str(who)),
        "place": places.get(str(place_code), str(place_code)),
        "until": when(fields.get("until")) if fields.get("until") else "",
        "stars": fields.get("satisfaction", ""),
    }
    template = EVENTS.get(action)
    text = gettext(template) % values if template else action
    detail = _detail(action, fields, staff, gettext)
    actor = people.get(event["actor"], event["actor"]) if staff else None
    return Entry(at=datetime.fromisoformat(event["created_at"]), text=text, detail=detail, actor=actor)


def _detail(action: str, fields: dict[str, Any], staff: bool, gettext: Callable[[str], str]) -> str | None:
    parts: list[str] = []
    if action == "resolve" and fields.get("outcome"):
        parts.append(gettext(CHOICES.get(fields["outcome"], fields["outcome"])))
    if staff:
        parts.extend(str(fields[key]) for key in STAFF_TEXT if fields.get(key))
        if fields.get("level"):
            parts.append(gettext(CHOICES.get(fields["level"], fields["level"])))
    elif FILER_VISIBLE_TEXT.get(action) and fields.get(FILER_VISIBLE_TEXT[action]):
        parts.append(str(fields[FILER_VISIBLE_TEXT[action]]))
    return " — ".join(parts) or None
