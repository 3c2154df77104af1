"""structlog set-up: one line per event, secrets scrubbed before rendering."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

import orjson
import structlog

# Keys whose values are never rendered, whatever a caller logs.
_SECRET_KEYS = frozenset(
    {"authorization", "api_key", "key", "secret_key", "access_key", "access_token", "token_value", "password"}
)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")
_LONG_BASE64 = re.compile(r"[A-Za-z0-9+/=]{200,}")
#: Configured credential values are redacted wherever they appear; shorter ones would eat words.
_MIN_VALUE_LENGTH = 6
_values: set[str] = set()
_configured: re.Pattern[str] | None = None


def redact_values(values: Iterable[str]) -> None:
    """Redact these configured credential values from every log line from now on (they add up)."""
    global _configured
    new = {value for value in values if isinstance(value, str) and len(value) >= _MIN_VALUE_LENGTH}
    if new <= _values:
        return
    _values.update(new)
    ordered = sorted(_values, key=len, reverse=True)
    _configured = re.compile("|".join(re.escape(value) for value in ordered))


def scrub(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    """Drop secret-looking values and shorten inline image data."""
    configured = _configured
    for key, value in event.items():
        if key.lower() in _SECRET_KEYS:
            event[key] = "[redacted]"
            continue
        if configured is not None and isinstance(value, str) and len(value) >= _MIN_VALUE_LENGTH:
            value = event[key] = configured.sub("[redacted]", value)
        if isinstance(value, str) and len(value) > 24:  # shorter values hold neither
            if "earer" in value or "EARER" in value:
                value = _BEARER.sub(r"\1[redacted]", value)
            if len(value) >= 200:
                value = _LONG_BASE64.sub("[base64 omitted]", value)
            event[key] = value
    return event


def _orjson_text(value: Any, **options: Any) -> str:
    return orjson.dumps(value, **options).decode()


def configure_logging(format: str = "console", level: str = "info", *, cache: bool = False) -> None:
    """Configure structlog for the process.

    ``cache`` keeps each logger's processor chain after its first use (what
    ``reelay serve`` does, it saves a lookup per line); tests that capture
    logs need it off.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_text)
        if format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            scrub,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=cache,
    )
