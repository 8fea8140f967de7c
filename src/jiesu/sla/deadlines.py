"""Clock arithmetic from the workflow's clocks (natural hours)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from jiesu.workflow.spec import ClocksSpec


def initial_deadlines(
    clocks: ClocksSpec, received_at: datetime, priority: str, complexity: str
) -> dict[str, datetime]:
    resolution_key = "complex" if complexity == "complex" and priority != "urgent" else priority
    return {
        "response_due": received_at + clocks.response[priority],  # type: ignore[index]
        "resolution_due": received_at + clocks.resolution[resolution_key],  # type: ignore[index]
    }


def current_due(case: dict[str, Any]) -> datetime | None:
    """The deadline that matters in the case's state: what the queue sorts by and overdue means."""
    state = case["state"]
    if state == "closed":
        return None
    if state == "feedback":
        return case["feedback_due"]
    if state in ("intake", "triage") or case["responded_at"] is None:
        return case["response_due"]
    return case["resolution_due"]
