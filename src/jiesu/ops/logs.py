"""Structured JSON logs (structlog), configured once per process, with personal data scrubbed.

Code never logs names, phones or free text; the scrubber is the second line of defence: it blanks
keys that hold personal data and anything in a string that looks like a phone number.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import msgspec
import structlog

REDACTED = "[redacted]"
PERSONAL_KEYS = frozenset(
    {
        "name",
        "phone",
        "contact",
        "contact_name",
        "contact_phone",
        "display_name",
        "first_name",
        "last_name",
        "email",
        "password",
        "api_key",
        "description",
        "note",
        "summary",
        "comment",
        "reason",
        "address",
        "address_string",
        "authorization",
    }
)
# Seven or more digits, maybe with +, spaces or dashes, not glued to letters (tracking numbers are).
PHONE_LIKE = re.compile(r"(?<![\w.])\+?\d[\d\- ]{5,}\d(?![\w.])")

QUERY_LOGGERS = ("aiosqlite", "asyncpg", "piccolo", "httpx", "httpcore")

_configured = False


def scrub(value: Any) -> Any:
    if isinstance(value, str):
        return PHONE_LIKE.sub(REDACTED, value)
    if isinstance(value, dict):
        return {k: REDACTED if str(k).lower() in PERSONAL_KEYS else scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def scrub_personal_data(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event_dict.items()):
        event_dict[key] = REDACTED if key.lower() in PERSONAL_KEYS else scrub(value)
    return event_dict


SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.format_exc_info,
    scrub_personal_data,
    structlog.processors.TimeStamper(fmt="iso", utc=True),  # after the scrubber: dates look like numbers
]


_ENCODER = msgspec.json.Encoder(enc_hook=str)


def _to_json(value: Any, **_: Any) -> str:
    """msgspec: half the cost of json.dumps per log line; the standard library for what it refuses."""
    try:
        return _ENCODER.encode(value).decode()
    except (TypeError, msgspec.EncodeError):
        return json.dumps(value, ensure_ascii=False, default=str)


def json_formatter() -> logging.Formatter:
    """One JSON object per line, for structlog's loggers and the standard library's alike."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.JSONRenderer(serializer=_to_json),
        ],
    )


def configure_logging(level: str = "INFO", stream: TextIO | None = None) -> None:
    """Idempotent: the app factory may run several times in one process (tests, workers)."""
    global _configured
    if _configured:
        return
    structlog.configure(
        processors=[*SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(json_formatter())
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not getattr(h, "_jiesu", False)]
    handler._jiesu = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Database drivers log statements with their parameters at DEBUG: names and phones. Never on.
    for driver in QUERY_LOGGERS:
        logging.getLogger(driver).setLevel(logging.WARNING)
    _configured = True


def get_logger(name: str) -> Any:
    return structlog.stdlib.get_logger(name)
