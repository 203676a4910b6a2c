"""Structured logs: one JSON object per line on stdout, which CloudWatch Logs stores as is.

Every line has ``timestamp``, ``level``, ``message`` and, inside a hook run, ``hook``,
``deploymentId`` and ``lifecycleEventHookExecutionId`` (see :class:`codedeploy_hooks.runner.HookContext`),
plus any extra fields the caller passes.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from typing import Any, TextIO

LOGGER_NAME = "codedeploy_hooks"


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object; extra fields come from ``extra={"fields": {...}}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(),
            "level": record.levelname,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Write to whatever ``sys.stdout`` is at emit time (the Lambda runtime and pytest both swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def get_logger() -> logging.Logger:
    """The package logger: JSON lines on stdout, not propagated to the runtime's root handler
    (which would print every line a second time in its own text format)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger
