"""Integrity checks that other domains register with the audit chain's verification.

A domain whose records are protected by events of the chain (mediation: the text of a frozen agreement is
hashed into its freeze event) registers a check here at start-up; ``verify_chain`` runs every registered
check after the chain itself verified, so audit needs to know nothing of those domains.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class IntegrityProblem:
    """The first event whose protected record no longer matches it, and why."""

    seq: int
    reason: str


IntegrityCheck = Callable[[], Awaitable[IntegrityProblem | None]]
_checks: dict[str, IntegrityCheck] = {}


def register_integrity_check(name: str, check: IntegrityCheck) -> None:
    """Add (or replace, by name: registering twice is harmless) a check run by every verification."""
    _checks[name] = check


async def first_integrity_problem() -> IntegrityProblem | None:
    """The problem with the lowest event number among the registered checks, if any."""
    problems = [problem for check in _checks.values() if (problem := await check()) is not None]
    return min(problems, key=lambda problem: problem.seq) if problems else None
