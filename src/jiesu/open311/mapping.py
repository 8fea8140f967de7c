"""Between the catalogue and cases on one side and GeoReport v2 resources on the other."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jiesu.case_record import CaseRecord
from jiesu.routing.catalogue import Catalogue, Category
from jiesu.workflow import STATES

SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-23T00:00:00Z"
UNCATEGORISED = "uncategorised"

# A dispute has two sides: the mediator needs to know who the other one is before the first call.
DISPUTE_ATTRIBUTES: list[dict[str, Any]] = [
    {
        "variable": True,
        "code": "other_party",
        "datatype": "string",
        "required": True,
        "datatype_description": "A flat, a shop or a company; no personal names, please.",
        "order": 1,
        "description": "Who is the dispute with?",
    },
    {
        "variable": True,
        "code": "tried_before",
        "datatype": "singlevaluelist",
        "required": False,
        "datatype_description": None,
        "order": 2,
        "description": "Have the two sides tried to settle it before?",
        "values": [{"key": "yes", "name": "Yes"}, {"key": "no", "name": "No"}],
    },
]

STATE_NOTES = {
    STATES.intake: "received; waiting to be accepted",
    STATES.triage: "accepted; being assigned to a community worker",
    STATES.mediation: "being handled",
    STATES.resolution: "a resolution is recorded and under review",
    STATES.feedback: "resolved; waiting for the resident's feedback",
}


def service_out(category: Category) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": category.description,
        "metadata": category.dispute,
        "type": "realtime",
        "keywords": category.name_zh,
        "group": "dispute" if category.dispute else "public service",
    }


def attributes_of(category: Category) -> list[dict[str, Any]]:
    return DISPUTE_ATTRIBUTES if category.dispute else []


def definition_out(category: Category) -> dict[str, Any]:
    return {"service_code": category.code, "attributes": attributes_of(category)}


def status_notes(case: CaseRecord) -> str:
    if not STATES.is_open(case.state):
        if case.merged_into:
            return "closed: merged with another request about the same matter"
        return f"closed: {case.outcome or 'done'}"
    note = STATE_NOTES.get(case.state, case.state)
    if case.state == STATES.mediation and case.reopen_count:
        note += " again after the resident was not satisfied"
    return note


def public_places(jurisdictions: list[dict[str, Any]]) -> dict[str, str]:
    """Jurisdiction code → the name published as a request's place: its community (a grid is shown as the
    community it lies in), never anything finer."""
    names = {row["code"]: row["name"] for row in jurisdictions}
    return {
        row["code"]: names.get(row["parent_code"] or "", row["name"])
        if row["level"] == "grid"
        else row["name"]
        for row in jurisdictions
    }


def request_out(
    case: CaseRecord, catalogue: Catalogue, agencies: dict[str, str], places: dict[str, str]
) -> dict[str, Any]:
    """One case as a service request.

    The listing is public, so the free-text description is never published, and neither is the address
    the filer gave (a home, a flat): the place is the case's community, and a dispute has none (it
    points at the two households).
    """
    category = catalogue.get(case.category) if case.category else None
    public_address = category is not None and not category.dispute
    closed = not STATES.is_open(case.state)
    return {
        "service_request_id": case.tracking_no,
        "status": "closed" if closed else "open",
        "status_notes": status_notes(case),
        "service_name": category.name if category else None,
        "service_code": category.code if category else UNCATEGORISED,
        "description": None,
        "agency_responsible": agencies.get(case.jurisdiction_code or ""),
        "service_notice": None,
        "requested_datetime": _iso(case.received_at),
        "updated_datetime": _iso(case.closed_at if closed and case.closed_at else case.updated_at),
        "expected_datetime": _iso(case.resolution_due),
        "address": places.get(case.jurisdiction_code or "") if public_address else None,
        "address_id": None,
        "zipcode": None,
        "lat": None,
        "long": None,
        "media_url": None,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
