"""The HTTP contract: what ``/schema/openapi.json`` says is what the server does, for every route by
construction rather than route by route.

- **Bodies**: every JSON body model is read strictly, as JSON (``{"on_duty": 0}`` is not ``false``,
  ``"5"`` is not ``5``; dates are ISO strings), and must forbid unknown fields (the app refuses to start
  otherwise). The document shows each body as pydantic itself describes it (Litestar's own rendering
  loses constraints of nested and optional fields), with ``additionalProperties: false``.
- **Limits** the input check (``jiesu.limits``) applies before every handler are written into the
  document: integers between -MAX_ID and MAX_ID, no NUL in any string, text that is stripped must hold
  a visible character, ``/api/`` query values may not be empty. Integer query parameters beyond that
  range are refused with a 400 naming them (they reached the database as an OverflowError).
- **Answers**: ``Allow`` on OPTIONS lists every method of the path; ``text/*`` media types carry one
  charset. Which media types and shapes a route answers in is declared on its handler (``responses=``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from litestar import Litestar, Request, Response
from litestar._signature.types import ExtendedMsgSpecValidationError
from litestar.exceptions import ImproperlyConfiguredException
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.pydantic import PydanticInitPlugin
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from jiesu.errors import field_error
from jiesu.limits.http import check_request_input
from jiesu.limits.input import MAX_ID

# ECMA-262 and Python read these alike: no NUL anywhere; and, for stripped text, one visible character.
NO_NUL = "^[^\\u0000]*$"
VISIBLE = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"
INTEGER = re.compile(r"[+-]?\d+")


# ---- bodies -----------------------------------------------------------------------------------


def _decode_strictly(model_type: type[BaseModel], value: Any) -> BaseModel:
    """JSON bodies validated as JSON in strict mode: no 0 for false, no "5" for 5, ISO dates as text.
    A number with a zero fraction (``7.0``) is an integer, as JSON Schema counts it."""
    try:
        return model_type.model_validate_json(json.dumps(_integral(value)), strict=True)
    except ValidationError as exc:
        raise ExtendedMsgSpecValidationError(errors=[dict(e) for e in exc.errors(include_url=False)]) from exc


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= 2**53:
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


class StrictBodies(PydanticInitPlugin):
    """Litestar's pydantic plugin with the strict JSON decoder in front of its own."""

    @classmethod
    def decoders(cls, validate_strict: bool = False) -> list[tuple[Any, Any]]:
        return [(_is_v2_model, _decode_strictly), *super().decoders(validate_strict)]


def _is_v2_model(value: Any) -> bool:
    return isinstance(value, type) and issubclass(value, BaseModel)


class ContractJsonSchema(GenerateJsonSchema):
    """pydantic's JSON schema with the limits the input check adds to every field."""

    def str_schema(self, schema: core_schema.StringSchema) -> JsonSchemaValue:
        out = super().str_schema(schema)
        if "pattern" not in out and "format" not in out:
            stripped = schema.get("strip_whitespace") and schema.get("min_length", 0) >= 1
            out["pattern"] = VISIBLE if stripped else NO_NUL
        return out

    def int_schema(self, schema: core_schema.IntSchema) -> JsonSchemaValue:
        out = super().int_schema(schema)
        _bound_integer(out)
        return out


def _bound_integer(schema: dict[str, Any]) -> None:
    schema.setdefault("minimum", -MAX_ID)
    schema.setdefault("maximum", MAX_ID)
    if "exclusiveMaximum" in schema:
        del schema["maximum"]


def _handlers(app: Litestar) -> Iterator[tuple[HTTPRoute, HTTPRouteHandler]]:
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                yield route, handler


def _body_model(handler: HTTPRouteHandler) -> type[BaseModel] | None:
    data = handler.parsed_fn_signature.parameters.get("data")
    annotation = data.annotation if data is not None else None
    return annotation if _is_v2_model(annotation) else None


def check_strict_bodies(app: Litestar) -> None:
    """Start-up: every JSON body model refuses unknown fields (extra="forbid"), nested models too."""
    for _, handler in _handlers(app):
        model = _body_model(handler)
        if model is None:
            continue
        for inner in _models_in(model):
            if inner.model_config.get("extra") != "forbid":
                raise ImproperlyConfiguredException(
                    f"{handler.handler_name}: body model {inner.__name__} must set extra='forbid'"
                )


def _models_in(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    todo = [model]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        yield current
        for field in current.model_fields.values():
            todo.extend(_models_of_annotation(field.annotation))


def _models_of_annotation(annotation: Any) -> Iterator[type[BaseModel]]:
    if _is_v2_model(annotation):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _models_of_annotation(arg)


# ---- the document -----------------------------------------------------------------------------


def tighten_document(app: Litestar, document: dict[str, Any]) -> None:
    """Write into ``document`` (in place, once) what the server enforces on every route."""
    if document.get("x-jiesu-contract"):
        return
    document["x-jiesu-contract"] = "bodies strict; integers 32-bit; no NUL; /api/ query values not empty"
    components = document.setdefault("components", {}).setdefault("schemas", {})
    bodies: dict[tuple[str, str], type[BaseModel]] = {}
    for route, handler in _handlers(app):
        model = _body_model(handler)
        for verb in handler.http_methods:
            if model is not None:
                bodies[(route.path_format, verb.lower())] = model
    refs, defs = models_json_schema(
        [(model, "validation") for model in set(bodies.values())],
        ref_template="#/components/schemas/{model}",
        schema_generator=ContractJsonSchema,
    )
    components.update({name: _json_schema_words(schema) for name, schema in defs.get("$defs", {}).items()})
    for (path, method), model in bodies.items():
        operation = document["paths"].get(path, {}).get(method)
        if operation is not None and "requestBody" in operation:
            content = operation["requestBody"]["content"]
            content.setdefault("application/json", {})["schema"] = refs[(model, "validation")]
    for route, handler in _handlers(app):
        for http_method in handler.http_methods:
            operation = document["paths"].get(route.path_format, {}).get(http_method.lower())
            if operation is not None:
                _declare_answers(route.path_format, handler, operation)
    for path, item in document.get("paths", {}).items():
        for operation in item.values():
            if isinstance(operation, dict):
                for parameter in operation.get("parameters", []):
                    _tighten_parameter(path, parameter)


def _declare_answers(path: str, handler: HTTPRouteHandler, operation: dict[str, Any]) -> None:
    """What the handler declares in ``opt``: open to anonymous callers, and the media types and
    shapes of its answers (``opt["content"]``: status -> media type -> schema). A path ending in
    ``.json`` or ``.xml`` answers in that format only."""
    if handler.opt.get("allow_anonymous"):
        operation["security"] = [{}]
    declared: dict[int, dict[str, Any]] = handler.opt.get("content", {})
    for status, content in declared.items():
        kept = {
            media_type: {"schema": schema}
            for media_type, schema in content.items()
            if not (path.endswith(".xml") and "xml" not in media_type)
            and not (path.endswith(".json") and "json" not in media_type)
        }
        answer = operation.setdefault("responses", {}).setdefault(str(status), {"description": ""})
        answer["content"] = kept


# pydantic writes a number's bounds under its own names when a validator wraps the type
# (``Annotated[float, BeforeValidator(...), Field(ge=-90)]``): JSON Schema's names for them.
BOUND_WORDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _json_schema_words(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_json_schema_words(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    numeric = schema.get("type") in ("number", "integer")
    return {
        (BOUND_WORDS[key] if numeric and key in BOUND_WORDS else key): _json_schema_words(value)
        for key, value in schema.items()
    }


def _tighten_parameter(path: str, parameter: dict[str, Any]) -> None:
    for schema in _alternatives(parameter.get("schema", {})):
        kind = schema.get("type")
        if kind == "integer":
            _bound_integer(schema)
        elif kind == "string" and "enum" not in schema and "const" not in schema:
            if "pattern" not in schema and "format" not in schema:
                schema["pattern"] = NO_NUL
            if parameter.get("in") == "query" and path.startswith("/api/"):
                schema["minLength"] = max(1, schema.get("minLength", 0))


def _alternatives(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield schema
    for key in ("oneOf", "anyOf"):
        for inner in schema.get(key, []):
            yield from _alternatives(inner)


class ContractJson(JsonRenderPlugin):
    """``/schema/openapi.json``: Litestar's document with the contract written in (built on first use)."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        tighten_document(request.app, openapi_schema)
        return super().render(request, openapi_schema)


# ---- requests and answers ---------------------------------------------------------------------


async def check_input(request: Request[Any, Any, Any]) -> None:
    """The ``before_request`` hook of the app: the input limits, then the query rules of the contract."""
    await check_request_input(request)
    integer_query_problem(request)
    empty_query_problem(request)


def integer_query_problem(request: Request[Any, Any, Any]) -> None:
    """An integer query parameter beyond the 32-bit range is a 400 naming it (not an OverflowError)."""
    handler = request.scope.get("route_handler")
    if not isinstance(handler, HTTPRouteHandler) or not request.query_params:
        return
    for name in _integer_query_names(handler):
        for value in request.query_params.getall(name, []):
            if INTEGER.fullmatch(value.strip()) and abs(int(value)) > MAX_ID:
                raise field_error(name, f"integers here lie between {-MAX_ID} and {MAX_ID}")


_INTEGER_QUERIES: dict[int, tuple[str, ...]] = {}


def _integer_query_names(handler: HTTPRouteHandler) -> tuple[str, ...]:
    key = id(handler)
    if key not in _INTEGER_QUERIES:
        names = []
        for name, field in handler.parsed_fn_signature.parameters.items():
            kwarg = field.kwarg_definition
            query = getattr(kwarg, "query", None) or name
            if (field.is_subclass_of(int) and not field.is_subclass_of(bool)) or any(
                t.is_subclass_of(int) and not t.is_subclass_of(bool) for t in field.inner_types
            ):
                names.append(query)
        _INTEGER_QUERIES[key] = tuple(names)
    return _INTEGER_QUERIES[key]


def empty_query_problem(request: Request[Any, Any, Any]) -> None:
    """``/api/`` query values may not be empty: leave a parameter out rather than send ``x=``."""
    if not request.url.path.startswith("/api/"):
        return
    for name, value in request.query_params.multi_items():
        if value == "":
            raise field_error(name, "must not be empty; leave the parameter out instead")


def one_charset(response: Response[Any]) -> Response[Any]:
    """An ``after_request`` hook: Litestar adds ``; charset=...`` to every text/* type itself. Static files
    arrive as ready ASGI responses without a ``media_type``: they are left as they are."""
    media_type = str(getattr(response, "media_type", "") or "")
    if media_type.startswith("text/") and ";" in media_type:
        response.media_type = media_type.split(";", 1)[0].strip()
    return response


async def allow_every_method(message: Message, scope: Scope) -> None:
    """A ``before_send`` hook: OPTIONS answers list every method of the path in ``Allow`` (Litestar's
    own answer keeps the methods of the first controller that registered the path)."""
    if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
        return
    handler = scope.get("route_handler")
    if not isinstance(handler, HTTPRouteHandler) or handler.http_methods != {"OPTIONS"}:
        return
    routes = scope["litestar_app"].routes
    allowed = next((r.methods for r in routes if isinstance(r, HTTPRoute) and r.path in handler.paths), None)
    if allowed:
        headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
        headers.append((b"allow", ", ".join(sorted(allowed)).encode()))
        message["headers"] = headers
