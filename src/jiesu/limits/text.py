"""Text that no database can store is refused with a 400 naming the field, before any handler runs.

PostgreSQL refuses NUL characters in text, and neither database can store a lone UTF-16 surrogate (JSON
allows ``"\\ud800"``): without this check such input fails deep inside a query as a 500. Ids beyond a
32-bit integer would overflow PostgreSQL's ``integer`` columns in the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from litestar import Request

from jiesu.errors import field_error

MAX_ID = 2**31 - 1  # the largest value of PostgreSQL's integer (SERIAL) columns


def _problem(text: str) -> str | None:
    if "\x00" in text:
        return "NUL characters are not allowed"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode (a lone surrogate)"
    return None


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """Every string in a decoded JSON value (keys included) with the dotted path of its field."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key)
            yield from _strings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}" if path else str(index))


async def reject_unstorable_text(request: Request[Any, Any, Any]) -> None:
    """A ``before_request`` hook: query parameters and JSON bodies must be storable text."""
    for name, value in request.query_params.multi_items():
        for text in (name, value):
            problem = _problem(text)
            if problem:
                raise field_error(name if text is value else "query", problem)
    if request.method in ("GET", "HEAD", "DELETE", "OPTIONS"):
        return
    body = await request.body()
    if b"\x00" not in body and b"\\u" not in body:  # the cheap test first: nothing to look for
        return
    try:
        decoded = json.loads(body)
    except ValueError:
        return  # not JSON: the handler's own parsing answers 400
    for path, text in _strings(decoded, ""):
        problem = _problem(text)
        if problem:
            raise field_error(path or "body", problem)
