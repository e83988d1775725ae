"""JSON-lines logging with a correlation id per invocation, and URL redaction.

Presigned query strings are credentials: the JSON formatter runs ``shared.urls.redact_text``
over every message and field. httpx and botocore log full
URLs, so their loggers are raised to WARNING.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
import uuid
from contextlib import contextmanager
from typing import Any, Iterator

from shared.urls import redact_text

_correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="-")
_NOISY = ("httpx", "httpcore", "botocore", "boto3", "urllib3", "s3transfer")


def new_correlation_id() -> str:
    return uuid.uuid4().hex[:16]


@contextmanager
def correlation(cid: str | None = None) -> Iterator[str]:
    token = _correlation_id.set(cid or new_correlation_id())
    try:
        yield _correlation_id.get()
    finally:
        _correlation_id.reset(token)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "cid": _correlation_id.get(),
            "msg": redact_text(record.getMessage()),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update({k: _safe(v) for k, v in fields.items()})
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["exc"] = redact_text(str(record.exc_info[1]))
        return json.dumps(entry, default=str)


def _safe(value: Any) -> Any:
    """Redact URLs in strings, also inside dicts and lists (an outcome's ``error.message``)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: _safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_safe(v) for v in value]
    return value


def configure_logging(level: str = "INFO", stream: Any = None) -> None:
    """Idempotent: safe to call at the start of every invocation."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if isinstance(h.formatter, JsonFormatter)), None)
    if handler is None:
        handler = logging.StreamHandler(stream or sys.stdout)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    for name in _NOISY:
        logging.getLogger(name).setLevel(logging.WARNING)


def log_event(logger: logging.Logger, msg: str, level: int = logging.INFO, **fields: Any) -> None:
    """One line per decision: a short message and structured fields."""
    logger.log(level, msg, extra={"fields": fields})
