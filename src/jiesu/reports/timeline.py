"""One case's clocks, read from the case and its events: started, extended, stopped, met or missed."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from jiesu.audit.tables import CaseEvent
from jiesu.audit.texts import reveal_events
from jiesu.case_record import CaseRecord
from jiesu.reports.sql import as_datetime
from jiesu.workflow import STATES
from jiesu.workflow.spec import ClocksSpec


def clock_status(
    due: datetime | None, stopped: datetime | None, closed: datetime | None, now: datetime
) -> str:
    """met / missed once stopped; overdue or running while open; cancelled when the case closed
    before the clock ran out without it being needed (rejected, merged, withdrawn)."""
    if due is None:
        return "not_started"
    if stopped is not None:
        return "met" if stopped <= due else "missed"
    if closed is not None:
        return "missed" if closed > due else "cancelled"
    return "overdue" if now > due else "running"


def _clock(
    name: str,
    started: datetime | None,
    due: datetime | None,
    stopped: datetime | None,
    closed: datetime | None,
    now: datetime,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "clock": name,
        "started_at": started,
        "due_at": due,
        "stopped_at": stopped,
        "status": clock_status(due, stopped, closed, now),
        **extra,
    }


async def case_timeline(case: CaseRecord, clocks: ClocksSpec, now: datetime) -> dict[str, Any]:
    events = (
        await CaseEvent.select(
            CaseEvent.seq,
            CaseEvent.actor,
            CaseEvent.action,
            CaseEvent.from_state,
            CaseEvent.to_state,
            CaseEvent.fields,
            CaseEvent.created_at,
        )
        .where(CaseEvent.case_id == case.id)
        .order_by(CaseEvent.seq)
    )
    events = await reveal_events(events)  # personal text is kept beside the append-only log
    closed = case.closed_at
    extensions, requests = _extensions(events)
    original_due = extensions[0]["previous_due"] if extensions else case.resolution_due
    return {
        "case_id": case.id,
        "tracking_no": case.tracking_no,
        "state": case.state,
        "received_at": case.received_at,
        "closed_at": closed,
        "reopen_count": case.reopen_count,
        "clocks": [
            _clock("response", case.received_at, case.response_due, case.responded_at, closed, now),
            _clock(
                "resolution",
                case.received_at,
                case.resolution_due,
                case.resolved_at,
                closed if case.resolved_at is None else None,
                now,
                original_due_at=original_due,
                extensions=extensions,
                extension_requests=requests,
                extension_pending=next((r for r in requests if r["status"] == "pending"), None),
            ),
            _feedback_clock(events, case, clocks, now),
        ],
    }


def _extensions(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The extensions that moved the resolution deadline (an approved request, or a direct ``extend``),
    and every request with its outcome: pending, approved, denied, or lapsed (the case left mediation
    before anyone decided)."""
    extensions: list[dict[str, Any]] = []
    requests: list[dict[str, Any]] = []
    for event in events:
        action, fields = event["action"], json.loads(event["fields"])
        at = as_datetime(event["created_at"])
        open_request = requests[-1] if requests and requests[-1]["status"] == "pending" else None
        if action == "request_extension":
            requests.append(
                {
                    "at": at,
                    "by": event["actor"],
                    "until": as_datetime(fields.get("until")),
                    "reason": fields.get("reason"),
                    "status": "pending",
                    "decided_at": None,
                    "decided_by": None,
                    "decision_reason": None,
                }
            )
        elif open_request and action in ("approve_extension", "deny_extension"):
            approved = action == "approve_extension"
            open_request.update(
                status="approved" if approved else "denied",
                decided_at=at,
                decided_by=event["actor"],
                decision_reason=fields.get("note" if approved else "reason"),
            )
        elif open_request and _leaves(event, STATES.mediation):
            open_request.update(status="lapsed", decided_at=at)
        if action in ("extend", "approve_extension"):
            extensions.append(
                {
                    "at": at,
                    "by": event["actor"],
                    "requested_by": fields.get("requested_by", event["actor"]),
                    "previous_due": as_datetime(fields.get("previous_due")),
                    "until": as_datetime(fields.get("until")),
                    "reason": fields.get("reason")
                    if action == "extend"
                    else (open_request or {}).get("reason"),
                }
            )
    return extensions, requests


def _enters(event: dict[str, Any], state: str) -> bool:
    return event["to_state"] == state and event["from_state"] != state


def _leaves(event: dict[str, Any], state: str) -> bool:
    return event["from_state"] == state and event["to_state"] != state


def _feedback_clock(
    events: list[dict[str, Any]], case: CaseRecord, clocks: ClocksSpec, now: datetime
) -> dict[str, Any]:
    """The latest feedback round: from the approval to the rating (or the automatic close)."""
    rounds = [i for i, e in enumerate(events) if _enters(e, STATES.feedback)]
    if not rounds:
        return _clock("feedback", None, None, None, None, now, rounds=0)
    start_event = events[rounds[-1]]
    started = as_datetime(start_event["created_at"])
    assert started is not None
    due = started + clocks.feedback
    stop = next((e for e in events[rounds[-1] + 1 :] if e["from_state"] == STATES.feedback), None)
    stopped = as_datetime(stop["created_at"]) if stop else None
    return _clock("feedback", started, due, stopped, None, now, rounds=len(rounds))
