"""The one extension of a case's resolution deadline, approved by someone other than the person handling it.

workflows/case.yaml: the assignee asks (``request_extension``: until, reason); a dispatcher or supervisor
whose scope holds the case decides: ``approve_extension`` moves the deadline, ``deny_extension`` (reason)
keeps it. ``extend`` is a dispatcher's or supervisor's own decision: request and approval in one. The
pending request lives on the case row (``extension_requested_*``), its reason in the request's event.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.case_record import CaseRecord
from jiesu.errors import field_error

EXTENSION_ACTIONS = ("request_extension", "approve_extension", "deny_extension", "extend")
NO_REQUEST: dict[str, Any] = {
    "extension_requested_until": None,
    "extension_requested_by": None,
    "extension_requested_at": None,
}


def is_pending(case: CaseRecord) -> bool:
    return case.extension_requested_until is not None


def refusal(case: CaseRecord, action: str) -> str | None:
    """Why ``action`` cannot be taken on ``case`` now (a conflict), or None when it can."""
    if action in ("request_extension", "extend"):
        if case.extension_count > 0:
            return "the resolution deadline was extended once already; it cannot be extended again"
        if is_pending(case):
            return "an extension request is already pending; approve_extension or deny_extension decides it"
    elif not is_pending(case):
        return "no extension request is pending"
    return None


def _check_until(until: datetime | None, case: CaseRecord, longest: timedelta) -> None:
    due = case.resolution_due
    if until is None or due is None:  # a case in mediation has both; the state machine makes sure
        raise field_error("until", "there is no resolution deadline to extend")
    if until <= due:
        raise field_error("until", "must be later than the current resolution deadline")
    if until > due + longest:
        raise field_error("until", "extends the deadline further than the workflow allows")


def effects(
    actor: Principal,
    case: CaseRecord,
    action: str,
    payload: dict[str, Any],
    now: datetime,
    longest: timedelta,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(column changes, extra event fields) of one of the EXTENSION_ACTIONS, already allowed by refusal()."""
    if action == "request_extension":
        _check_until(payload["until"], case, longest)
        changes = {
            "extension_requested_until": payload["until"],
            "extension_requested_by": actor.username,
            "extension_requested_at": now,
        }
        return changes, {"current_due": case.resolution_due}
    if action == "deny_extension":
        request = {"until": case.extension_requested_until, "requested_by": case.extension_requested_by}
        return dict(NO_REQUEST), request
    if action == "approve_extension":
        until = case.extension_requested_until
        _check_until(until, case, longest)
        fields = {
            "until": until,
            "previous_due": case.resolution_due,
            "requested_by": case.extension_requested_by,
            "requested_at": case.extension_requested_at,
        }
    else:  # extend
        until = payload["until"]
        _check_until(until, case, longest)
        fields = {"previous_due": case.resolution_due}
    changes = {**NO_REQUEST, "resolution_due": until, "extension_count": case.extension_count + 1}
    return changes, fields


def pending_request(case: CaseRecord) -> dict[str, Any] | None:
    """The pending request as the API shows it on the case."""
    if not is_pending(case):
        return None
    return {
        "until": case.extension_requested_until,
        "requested_by": case.extension_requested_by,
        "requested_at": case.extension_requested_at,
    }
