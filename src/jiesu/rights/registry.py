"""The personal data each domain keeps, as hooks the domain offers and ``rights`` calls.

``rights`` decides whose data, which case and when (export on request, erasure on request or after the
retention period); every domain reads and writes only its own tables, and none imports rights. The hooks
are registered once, at start-up (``jiesu.app.register_personal_data``), under the name the domain's part
of the export carries; the export lists the parts in the order they were first registered. Erasure hooks
run inside the caller's write transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from jiesu.case_record import CaseRecord
from jiesu.privacy import DataSubject

# The domain's part of the export of a person.
Export = Callable[[DataSubject], Awaitable[Any]]
# Erase what the domain keeps about one case; given the case row as it was before its erasure.
EraseCase = Callable[[CaseRecord], Awaitable[None]]
# A deleted account (username) is known from now on by a pseudonym, or not at all.
ForgetAccount = Callable[[str, str], Awaitable[None]]


@dataclass(frozen=True)
class PersonalData:
    """One domain's hooks; a domain without a kind of data leaves that hook out."""

    export: Export | None = None
    erase_case: EraseCase | None = None
    forget_account: ForgetAccount | None = None


_registered: dict[str, PersonalData] = {}


def register(
    name: str,
    *,
    export: Export | None = None,
    erase_case: EraseCase | None = None,
    forget_account: ForgetAccount | None = None,
) -> None:
    """Register (or replace) the hooks of domain part ``name``."""
    _registered[name] = PersonalData(export=export, erase_case=erase_case, forget_account=forget_account)


def registered() -> list[tuple[str, PersonalData]]:
    return list(_registered.items())
