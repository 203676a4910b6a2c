"""Structured JSON logging: one JSON object per line, which CloudWatch Logs Insights parses as fields."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

LOGGER_NAME = "sage_worker"

# Attributes every LogRecord has; anything else on a record came in through ``extra=`` and is a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """Render a record as ``{"time", "level", "logger", "message", ...extra fields}``.

    A record carrying an exception gets an ``exception`` field with the formatted traceback; that goes
    to the log stream only, never into a response body.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StdoutHandler(logging.StreamHandler):
    """A stream handler that looks up ``sys.stdout`` on every write (so a replaced stdout is honoured)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property  # type: ignore[override]
    def stream(self):  # noqa: D102
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


def get_logger(name: str = LOGGER_NAME) -> logging.Logger:
    """The package logger, configured once: JSON lines on stdout, INFO and above, no propagation.

    Propagation is off because the Lambda runtime installs its own plain-text handler on the root logger,
    which would print every record a second time.
    """
    root = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _StdoutHandler) for h in root.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        root.propagate = False
    return logging.getLogger(name)
