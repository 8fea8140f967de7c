"""The two formats of GeoReport v2: JSON, and XML (the spec's mandatory one) with its element names."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from litestar import Response
from litestar.exceptions import HTTPException

XML_MEDIA_TYPE = "text/xml"  # Litestar adds "; charset=utf-8"
JSON_MEDIA_TYPE = "application/json"

# Plural container → element name of one item, as the spec writes them.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "errors": "error",
}


# How the answers look, for the OpenAPI document (jiesu.contract reads a handler's opt["content"]): JSON
# or XML by the path's suffix, and errors as the spec's list of {code, description} in either format.
XML_TEXT: dict[str, Any] = {"type": "string"}
ERROR_LIST: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        "required": ["code", "description"],
    },
}
OBJECT: dict[str, Any] = {"type": "object"}
LIST: dict[str, Any] = {"type": "array", "items": {"type": "object"}}
ERROR_STATUSES = (400, 401, 403, 404, 405, 409, 429)


def answers(status: int, shape: dict[str, Any]) -> dict[str, Any]:
    """A handler's ``opt``: open to anonymous callers, ``shape`` in JSON or XML, the spec's errors."""
    content: dict[int, dict[str, Any]] = {status: {"application/json": shape, "text/xml": XML_TEXT}}
    for error in ERROR_STATUSES:
        content[error] = {"application/json": ERROR_LIST, "text/xml": XML_TEXT}
    return {"allow_anonymous": True, "content": content}


class Open311Error(HTTPException):
    """An error the spec's way: a list of {code, description}."""

    def __init__(self, status_code: int, description: str, headers: dict[str, str] | None = None):
        super().__init__(status_code=status_code, detail=description, headers=headers)


def split_format(resource: str) -> tuple[str, str]:
    """``"requests.xml"`` → (``"requests"``, ``"xml"``); an unknown suffix is a 404."""
    stem, dot, fmt = resource.rpartition(".")
    if not dot or fmt not in ("json", "xml") or not stem:
        raise Open311Error(404, f"{resource}: ask for .json or .xml")
    return stem, fmt


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _fill(parent: Element, name: str, value: Any) -> None:
    element = SubElement(parent, name)
    if isinstance(value, dict):
        for key, inner in value.items():
            _fill(element, key, inner)
    elif isinstance(value, list):
        for item in value:
            _fill(element, ITEM_NAMES.get(name, "item"), item)
    elif value is not None:
        element.text = _text(value)


def to_xml(root: str, value: list[Any] | dict[str, Any]) -> bytes:
    element = Element(root)
    if isinstance(value, list):
        for item in value:
            _fill(element, ITEM_NAMES[root], item)
    else:
        for key, inner in value.items():
            _fill(element, key, inner)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + tostring(element, encoding="unicode").encode()


def _json_ready(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    return value


def respond(
    fmt: str,
    xml_root: str,
    value: list[Any] | dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response[bytes]:
    if fmt == "xml":
        body, media_type = to_xml(xml_root, value), XML_MEDIA_TYPE
    else:
        body = json.dumps(_json_ready(value), ensure_ascii=False).encode()
        media_type = JSON_MEDIA_TYPE
    return Response(body, status_code=status_code, media_type=media_type, headers=headers)


def error_response(request_path: str, status_code: int, description: str, headers: Any = None) -> Response:
    fmt = "xml" if request_path.endswith(".xml") else "json"
    errors = [{"code": status_code, "description": description}]
    return respond(fmt, "errors", errors, status_code=status_code, headers=dict(headers or {}))
