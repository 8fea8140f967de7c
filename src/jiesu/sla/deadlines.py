"""Clock arithmetic from the workflow's clocks: natural hours, or working days when the calendar says so."""

from __future__ import annotations

from datetime import datetime

from jiesu.case_record import CaseRecord
from jiesu.sla.calendar import BusinessCalendar
from jiesu.workflow.spec import ClocksSpec


def initial_deadlines(
    clocks: ClocksSpec,
    received_at: datetime,
    priority: str,
    complexity: str,
    calendar: BusinessCalendar | None = None,
) -> dict[str, datetime]:
    resolution_key = "complex" if complexity == "complex" and priority != "urgent" else priority
    response = clocks.response[priority]  # type: ignore[index]
    resolution = clocks.resolution[resolution_key]  # type: ignore[index]
    if calendar is None:
        return {"response_due": received_at + response, "resolution_due": received_at + resolution}
    return {
        "response_due": calendar.add("response", received_at, response),
        "resolution_due": calendar.add("resolution", received_at, resolution),
    }


def feedback_deadline(
    clocks: ClocksSpec, now: datetime, calendar: BusinessCalendar | None = None
) -> datetime:
    if calendar is None:
        return now + clocks.feedback
    return calendar.add("feedback", now, clocks.feedback)


def running_clock(state: str, responded_at: datetime | None) -> str | None:
    """The clock whose deadline is ``current_due`` in ``state``: response, resolution, feedback (None
    when closed).

    The response deadline is met once, by the first contact: a case handed back to triage after it
    (``return_order``, ``transfer``) waits on its resolution deadline, not on the one it already met."""
    if state == "closed":
        return None
    if state == "feedback":
        return "feedback"
    if responded_at is None:
        return "response"
    return "resolution"


def current_due(case: CaseRecord) -> datetime | None:
    """The deadline that matters in the case's state: what the queue sorts by and overdue means."""
    clock = running_clock(case.state, case.responded_at)
    if clock is None:
        return None
    due: datetime | None = getattr(case, f"{clock}_due")
    return due
