"""Sealed values: personal text of events that can be erased without breaking the hash chain.

The event log is append-only. An event's free text (a contact note, a reason, a summary) and a
resident's username are not written into the event: the event holds ``sealed:<digest>`` in their place,
where the digest is SHA-256 over a random salt and the value, and the value and its salt go to
``jiesu_event_text`` beside the log. The chain hashes the event as written, so it never depends on the
text. While the text is there, verification checks it against its seal, so editing it shows. Erasure
replaces the text with ERASED and drops the salt (without the salt the seal cannot be used to guess a
short text such as a phone number); verification accepts an erased text only in a case whose history
records the erasure (an ``anonymise`` event).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from typing import Any

from jiesu.privacy import ERASED

ACTOR = "@actor"  # the text row of the event's actor, when the actor is a resident
SEALED = "sealed:"
ACTOR_DIGEST_CHARS = 56
ERASURE_ACTION = "anonymise"
# Event fields that may hold free text written by or about a person; a value that is not a string is
# never sealed.
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
# action → the free-text fields the workflow declares for it (workflows/case.yaml, ``type: text``): sealed
# too, whatever their name. Declared at start-up by the app from the workflow it loads.
_declared_text: dict[str, frozenset[str]] = {}


def declare_text_fields(by_action: Mapping[str, frozenset[str]]) -> None:
    """The workflow's free-text fields by action; they are sealed in the events of that action."""
    _declared_text.clear()
    _declared_text.update(by_action)


def sealed_fields(action: str) -> frozenset[str]:
    """The fields whose text values are sealed in an event of ``action``."""
    return PERSONAL_TEXT_FIELDS | _declared_text.get(action, frozenset())


def _digest(salt: str, value: str) -> str:
    return hashlib.sha256(f"{salt}\x00{value}".encode()).hexdigest()


def seal_event(
    actor: str, actor_role: str, fields: dict[str, Any], action: str = ""
) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    """(actor, fields) as the event is written, and the text rows that keep the personal values."""
    personal = sealed_fields(action)
    texts: list[dict[str, Any]] = []

    def seal(field: str, value: str) -> str:
        salt = secrets.token_hex(16)
        texts.append({"field": field, "value": value, "salt": salt})
        digest = _digest(salt, value)
        # The actor column holds 64 characters: its seal keeps 224 of the digest's 256 bits.
        return SEALED + (digest[:ACTOR_DIGEST_CHARS] if field == ACTOR else digest)

    written = {
        key: seal(key, value) if key in personal and isinstance(value, str) else value
        for key, value in fields.items()
    }
    written_actor = seal(ACTOR, actor) if actor_role in SEALED_ROLES else actor
    return written_actor, written, texts


def _sealed_values(event: dict[str, Any]) -> dict[str, str]:
    """{field: digest} of the event's sealed values."""
    fields = json.loads(event["fields"]) if isinstance(event["fields"], str) else event["fields"]
    sealed = {k: v[len(SEALED) :] for k, v in fields.items() if isinstance(v, str) and v.startswith(SEALED)}
    if isinstance(event.get("actor"), str) and event["actor"].startswith(SEALED):
        sealed[ACTOR] = event["actor"][len(SEALED) :]
    return sealed


def seal_problem(
    event: dict[str, Any], texts: dict[str, dict[str, Any]], erased_cases: set[int]
) -> str | None:
    """Why the event's personal texts do not match their seals, or None."""
    for field, digest in _sealed_values(event).items():
        name = field.lstrip("@")
        text = texts.get(field)
        if text is None:
            return f"{name}: the sealed text is missing (deleted)"
        if text["salt"]:
            if _digest(text["salt"], text["value"])[: len(digest)] != digest:
                return f"{name}: the text does not match its seal (edited)"
        elif text["value"] != ERASED or event["case_id"] not in erased_cases:
            return f"{name}: erased without a recorded anonymisation"
    return None


def reveal(event: dict[str, Any], texts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The event as people read it: sealed values replaced by their text (or ERASED)."""
    fields = json.loads(event["fields"]) if isinstance(event["fields"], str) else dict(event["fields"])
    sealed = _sealed_values(event)
    if not sealed:
        return event
    for field in sealed:
        value = texts[field]["value"] if field in texts else ERASED
        if field == ACTOR:
            event = {**event, "actor": value}
        else:
            fields[field] = value
    as_text = isinstance(event["fields"], str)
    return {**event, "fields": json.dumps(fields, ensure_ascii=False) if as_text else fields}
