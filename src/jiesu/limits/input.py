"""Hostile input is refused before any handler runs: bodies that are not JSON, JSON that does not parse,
and text that no database can store, each with a clear status and a ``detail`` naming the field.

PostgreSQL refuses NUL characters in text, and neither database can store a lone UTF-16 surrogate (JSON
allows ``"\\ud800"``): without this check such input fails deep inside a query as a 500. Ids beyond a
32-bit integer would overflow PostgreSQL's ``integer`` columns in the same way, so no integer in a path or
a JSON body may lie beyond that range (no field of this API needs more).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from litestar import Request
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_415_UNSUPPORTED_MEDIA_TYPE

from jiesu.errors import field_error

MAX_ID = 2**31 - 1  # the largest value of PostgreSQL's integer (SERIAL) columns
# The largest request body (413 beyond it). A case's longest text is 10,000 characters (40 kB of UTF-8).
MAX_BODY_BYTES = 256 * 1024
BODY_METHODS = ("POST", "PUT", "PATCH")


class UnsupportedMediaType(HTTPException):
    status_code = HTTP_415_UNSUPPORTED_MEDIA_TYPE


def is_json_media_type(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or (
        media_type.startswith("application/") and media_type.endswith("+json")
    )


def _problem(text: str | int) -> str | None:
    if isinstance(text, int):
        return None if -MAX_ID <= text <= MAX_ID else f"integers here lie between {-MAX_ID} and {MAX_ID}"
    if "\x00" in text:
        return "NUL characters are not allowed"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode (a lone surrogate)"
    return None


def _strings(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every string and integer in a decoded JSON value (keys included) with the dotted path of its field."""
    if isinstance(value, str | int) and not isinstance(value, bool):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            yield child, str(key)
            yield from _strings(item, child)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}.{index}" if path else str(index))


async def check_request_input(request: Request[Any, Any, Any]) -> None:
    """A ``before_request`` hook: JSON bodies only, well-formed, and only storable text anywhere."""
    for name, value in request.query_params.multi_items():
        for text in (name, value):
            problem = _problem(text)
            if problem:
                raise field_error(name if text is value else "query", problem)
    for name, value in request.path_params.items():
        problem = _problem(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
        if problem:
            raise field_error(name, problem)
    if request.method not in BODY_METHODS or not request.url.path.startswith("/api/"):
        return  # the web pages post forms (read by their own handlers) and guard their own input
    body = await request.body()  # over MAX_BODY_BYTES: 413; Litestar keeps it for the handler
    if not body:
        return
    content_type = request.headers.get("content-type", "")
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType(f"Content-Type: send application/json, not {content_type[:60]!r}")
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise field_error("body", f"not valid JSON ({str(exc)[:120]})") from exc
    for path, text in _strings(decoded, ""):
        problem = _problem(text)
        if problem:
            raise field_error(path or "body", problem)
