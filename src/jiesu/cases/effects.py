"""What other domains add to a case action: checks that may refuse it, and column changes.

A domain registers an ``EffectHook`` with ``CaseService.effect_hooks`` (mediation: recusals, agreements).
A hook runs in two phases so that the batched intake can run it too: called with (actor, case, action,
payload, now) it reads what it needs and may write in the action's transaction; it returns a ``Decide``,
a function of the final payload that returns the columns to change or raises one of
``jiesu.errors.REFUSALS`` to refuse. A direct action calls both at once. At filing, the system's accept
and dispatch are prepared in the request, before the batch (the case has no id yet, ``case.id`` is
None, and the dispatch payload's ``assignee`` is None: the batch chooses the worker), and decided inside
the batch for the worker it chose; so a hook costs the batch no statement. Prepared at filing, a hook
must not write: the request's own transaction has not begun.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from jiesu.accounts.security import Principal
from jiesu.case_record import CaseRecord

Decide = Callable[[dict[str, Any]], dict[str, Any]]
EffectHook = Callable[[Principal, CaseRecord, str, dict[str, Any], datetime], Awaitable[Decide]]


def unconditionally(changes: dict[str, Any]) -> Decide:
    """The decision of a hook whose changes do not depend on the final payload."""
    return lambda _payload: changes


async def prepare(
    hooks: list[EffectHook],
    actor: Principal,
    case: CaseRecord,
    action: str,
    payload: dict[str, Any],
    now: datetime,
) -> list[Decide]:
    return [await hook(actor, case, action, payload, now) for hook in hooks]


def decide(decisions: list[Decide], payload: dict[str, Any]) -> dict[str, Any]:
    """The changes every hook makes for ``payload``, in the order the hooks were registered."""
    changes: dict[str, Any] = {}
    for decision in decisions:
        changes.update(decision(payload))
    return changes
