"""Hostile input is refused before any handler runs: bodies that are not JSON, JSON that does not parse,
and text that no database can store, each with a clear status and a ``detail`` naming the field.

PostgreSQL refuses NUL characters in text, and neither database can store a lone UTF-16 surrogate (JSON
allows ``"\\ud800"``): without this check such input fails deep inside a query as a 500. Ids beyond a
32-bit integer would overflow PostgreSQL's ``integer`` columns in the same way, so no integer in a path or
a JSON body may lie beyond that range (no field of this API needs more). The hook that applies these
rules before the handlers is jiesu.limits.http.check_request_input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any

MAX_ID = 2**31 - 1  # the largest value of PostgreSQL's integer (SERIAL) columns
# The largest request body (413 beyond it). A case's longest text is 10,000 characters (40 kB of UTF-8).
MAX_BODY_BYTES = 256 * 1024
BODY_METHODS = ("POST", "PUT", "PATCH")


# A time in a query parameter: an ISO-8601 date, or a date and time (RFC 3339, the offset optional: UTC).
# ISO_TIME is its JSON schema in the OpenAPI document (as a parameter's schema_extra it replaces the
# alternatives of ``str | None``), ISO_SHAPE what parse_iso_time takes.
ISO_TIME: dict[str, Any] = {
    "oneOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}]
}
ISO_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})?)?")


def parse_iso_time(text: str) -> datetime:
    """A date or date-time as ISO_TIME documents it; ValueError for anything else."""
    if not ISO_SHAPE.fullmatch(text):
        raise ValueError(text)
    return datetime.fromisoformat(text.upper())


def is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def input_problem(text: str | int) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    if isinstance(text, int):
        return None if -MAX_ID <= text <= MAX_ID else f"integers here lie between {-MAX_ID} and {MAX_ID}"
    if "\x00" in text:
        return "NUL characters are not allowed"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode (a lone surrogate)"
    return None


def scalars_with_paths(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every string and integer in a decoded JSON value (keys included) with the dotted path of its field."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key)
            yield from scalars_with_paths(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from scalars_with_paths(item, f"{path}.{index}" if path else str(index))
