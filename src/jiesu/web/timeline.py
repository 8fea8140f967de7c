"""The case's audit events told as plain sentences, for the person reading the case page."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.accounts.tables import Jurisdiction, User
from jiesu.case_record import CaseRecord
from jiesu.cases.queries import case_events
from jiesu.web.labels import CHOICES, EVENTS

# The free text a detail line shows; what a filer's events keep of it is decided by
# jiesu.cases.queries.filer_view, the same redaction the API applies.
TEXT_FIELDS = ("note", "reason", "summary", "comment", "department")


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
    case: CaseRecord, actor: Principal, gettext: Callable[[str], str], when: Callable[[Any], str]
) -> list[Entry]:
    events = await case_events(actor, case.id or 0)  # a case on a page is stored: it has an id
    staff = actor.is_staff
    people = await names_of({e["actor"] for e in events if e["actor"]} | _assignees(events))
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
    who = fields.get("assignee") or (event["actor"] if action == "claim" else "") or ""
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
    actor = people.get(event["actor"], event["actor"]) if staff and event["actor"] else None
    return Entry(at=datetime.fromisoformat(event["created_at"]), text=text, detail=detail, actor=actor)


def _detail(action: str, fields: dict[str, Any], staff: bool, gettext: Callable[[str], str]) -> str | None:
    parts: list[str] = []
    if action == "resolve" and fields.get("outcome"):
        parts.append(gettext(CHOICES.get(fields["outcome"], fields["outcome"])))
    parts.extend(str(fields[key]) for key in TEXT_FIELDS if fields.get(key))
    if staff and fields.get("level"):
        parts.append(gettext(CHOICES.get(fields["level"], fields["level"])))
    return " — ".join(parts) or None
