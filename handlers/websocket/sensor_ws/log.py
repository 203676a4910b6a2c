"""Structured logging: one JSON object per line on stdout, tagged with the connection and request ids.

Handlers call ``bind(...)`` once per invocation; every record logged inside that block carries
``connectionId`` and ``requestId``. Extra fields go in ``extra={"fields": {...}}``. Reading values are
logged only at DEBUG.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

LOGGER_NAME = "sensor_ws"

_connection_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("connection_id", default=None)
_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    """Render a record as a single-line JSON object."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        connection_id = _connection_id.get()
        if connection_id is not None:
            entry["connectionId"] = connection_id
        request_id = _request_id.get()
        if request_id is not None:
            entry["requestId"] = request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            for key, value in fields.items():
                entry.setdefault(key, value)
        if record.exc_info and record.exc_info[1] is not None:
            entry["errorType"] = type(record.exc_info[1]).__name__
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StdoutHandler(logging.StreamHandler):
    """A StreamHandler that looks up sys.stdout when it writes, so redirected stdout is honoured."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201 - matches logging.StreamHandler.stream
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:  # noqa: ANN001 - StreamHandler.__init__ assigns it
        pass


def get_logger() -> logging.Logger:
    """The package logger, configured on first use (level from LOG_LEVEL, default INFO)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.propagate = False  # the Lambda runtime's root handler would print a second, unstructured copy
        level = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
        logger.setLevel(level if level in logging.getLevelNamesMapping() else "INFO")
    return logger


@contextlib.contextmanager
def bind(connection_id: str | None, context: object | None) -> Iterator[None]:
    """Tag records logged inside the block with ``connectionId`` and the Lambda ``requestId``."""
    request_id = getattr(context, "aws_request_id", None)
    tokens = (
        _connection_id.set(connection_id),
        _request_id.set(request_id if isinstance(request_id, str) else None),
    )
    try:
        yield
    finally:
        _request_id.reset(tokens[1])
        _connection_id.reset(tokens[0])
