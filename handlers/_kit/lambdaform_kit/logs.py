"""Structured logging: one JSON object per line on stdout, which Lambda ships to CloudWatch Logs.

Every line has the same layout::

    {"time": "2024-03-12T19:03:58.123Z", "level": "INFO", "logger": "sage_worker.handler",
     "message": "...", <bound fields>, <extra fields>, "error": "ValueError", "traceback": "..."}

- ``time`` is ISO-8601 UTC with milliseconds;
- bound fields come from :func:`bind` (``request_id`` and ``function_name`` of the Lambda context) and
  :func:`append_fields`; extra fields from ``logger.info(..., extra={"key": value})``, at top level; an
  extra field wins over a bound one of the same name;
- a record with an exception gets ``error`` (the exception's type name) and ``traceback``. Tracebacks go to
  the log stream only, never into a response.

The level is ``LOG_LEVEL`` (``DEBUG``, ``INFO``, ``WARNING``, ``ERROR``, ``CRITICAL``; default and fallback
``INFO``), read when a package's logger is first configured.
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
from typing import Any, TextIO

DEFAULT_LEVEL = "INFO"
LOGGED_MARK = "_lambdaform_kit_logged"
"""Set on an exception once a line carried its traceback, so the last line of defence does not repeat it."""

# Attributes every LogRecord has; anything else on a record came in through ``extra=`` and is a field.
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

_bound: contextvars.ContextVar[dict[str, Any]] = contextvars.ContextVar("lambdaform_kit_bound", default={})


def _iso_time(created: float, msecs: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{int(msecs):03d}Z"


class JsonFormatter(logging.Formatter):
    """Render a record in the kit's one layout (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _iso_time(record.created, record.msecs),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_bound.get())
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            entry["error"] = type(error).__name__
            entry["traceback"] = self.formatException(record.exc_info)
            with contextlib.suppress(AttributeError, TypeError):
                setattr(error, LOGGED_MARK, True)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stdout`` is at emit time (the Lambda runtime and pytest both replace it)."""

    def __init__(self) -> None:
        super().__init__()

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stdout

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def level_from_env() -> int:
    """The level ``LOG_LEVEL`` names, or INFO when it is unset or not a level name."""
    name = os.environ.get("LOG_LEVEL", DEFAULT_LEVEL).strip().upper()
    level = logging.getLevelNamesMapping().get(name)
    return level if level is not None else logging.getLevelNamesMapping()[DEFAULT_LEVEL]


def get_logger(name: str) -> logging.Logger:
    """The logger ``name`` (e.g. ``__name__``); its top-level package logger is configured once per process.

    Configuration: one JSON handler on stdout, level from ``LOG_LEVEL``, no propagation (the Lambda runtime
    puts its own plain-text handler on the root logger, which would print every line a second time).
    """
    package = logging.getLogger(name.split(".", 1)[0])
    if not any(isinstance(h, _StdoutHandler) for h in package.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        package.addHandler(handler)
        package.setLevel(level_from_env())
        package.propagate = False
    return logging.getLogger(name)


def context_fields(context: object | None) -> dict[str, str]:
    """``request_id`` and ``function_name`` of a Lambda context (those it has)."""
    fields = {}
    for attribute, key in (("aws_request_id", "request_id"), ("function_name", "function_name")):
        value = getattr(context, attribute, None)
        if isinstance(value, str):
            fields[key] = value
    return fields


@contextlib.contextmanager
def bind(context: object | None = None, **fields: Any) -> Iterator[None]:
    """Put the Lambda context's ids and ``fields`` on every line logged inside the block (any logger)."""
    token = _bound.set({**_bound.get(), **context_fields(context), **fields})
    try:
        yield
    finally:
        _bound.reset(token)


def append_fields(**fields: Any) -> None:
    """Add ``fields`` to every later line of the enclosing :func:`bind` block (they end with it)."""
    _bound.set({**_bound.get(), **fields})


def bound_fields() -> dict[str, Any]:
    """The fields bound right now."""
    return dict(_bound.get())
