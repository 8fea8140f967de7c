"""Sealed values: personal text in events that can be erased without breaking the hash chain.

An event's free text (a contact note, a reason, a summary) and a resident's username are not hashed
as they are: the chain hashes a salted SHA-256 of each (the seal), and the row keeps the value and its
salt beside it. While the value is there, verification checks it against its seal, so editing it shows.
Erasure replaces the value with ERASED and drops the salt; the seal stays, so the chain still verifies,
and without the salt the seal cannot be used to guess a short text such as a phone number. Verification
accepts an erased value only in a case whose history records the erasure (an ``anonymise`` event).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

ERASED = "[erased]"
ACTOR = "@actor"  # the seal of the event's actor, when the actor is a resident
ERASURE_ACTION = "anonymise"
# Event fields that may hold free text written by or about a person. Other domains' actions use these
# names for their free text too; a value that is not a string is never sealed.
PERSONAL_TEXT_FIELDS = frozenset(
    {
        "note",
        "reason",
        "summary",
        "comment",
        "text",
        "terms",
        "agreement",
        "message",
        "description",
        "title",
        "address",
        "name",
        "phone",
        "contact",
    }
)
SEALED_ROLES = frozenset({"resident"})


def _digest(salt: str, value: str) -> str:
    return hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()


def _seal(value: str) -> dict[str, Any]:
    salt = secrets.token_hex(16)
    return {"salt": salt, "digest": _digest(salt, value)}


def seal_event(actor: str, actor_role: str, fields: dict[str, Any]) -> dict[str, Any]:
    """The seals of a new event's personal values."""
    seals = {
        key: _seal(value)
        for key, value in fields.items()
        if key in PERSONAL_TEXT_FIELDS and isinstance(value, str)
    }
    if actor_role in SEALED_ROLES:
        seals[ACTOR] = _seal(actor)
    return seals


def parse(event: dict[str, Any]) -> dict[str, Any]:
    raw = event.get("seals")
    return json.loads(raw) if raw else {}


def hashed_view(event: dict[str, Any], fields: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The actor and fields as the chain hashes them: sealed values stand in for personal ones."""
    seals = parse(event)
    if not seals:
        return event["actor"], fields
    actor = f"sealed:{seals[ACTOR]['digest']}" if ACTOR in seals else event["actor"]
    hashed = dict(fields)
    for key, seal in seals.items():
        if key != ACTOR:
            hashed[key] = f"sealed:{seal['digest']}"
    return actor, hashed


def seal_problem(event: dict[str, Any], erased_cases: set[int]) -> str | None:
    """Why the event's personal values do not match their seals, or None."""
    seals = parse(event)
    if not seals:
        return None
    fields = json.loads(event["fields"])
    for key, seal in seals.items():
        value = event["actor"] if key == ACTOR else fields.get(key)
        if seal.get("salt"):
            if not isinstance(value, str) or _digest(seal["salt"], value) != seal["digest"]:
                return f"{key.lstrip('@')}: the value does not match its seal (edited)"
        elif value != ERASED or event["case_id"] not in erased_cases:
            return f"{key.lstrip('@')}: erased without a recorded anonymisation"
    return None


def erase(event: dict[str, Any]) -> tuple[str, str, str] | None:
    """The event's (actor, fields, seals) with personal values erased, or None when nothing changes."""
    seals = parse(event)
    fields = json.loads(event["fields"])
    actor = event["actor"]
    changed = False
    for key, seal in seals.items():
        if not seal.get("salt"):
            continue
        if key == ACTOR:
            actor = ERASED
        else:
            fields[key] = ERASED
        seal["salt"] = None
        changed = True
    if not changed:
        return None
    from jiesu.audit.chain import canonical_json

    return actor, canonical_json(fields), canonical_json(seals)
