"""The last line of defence around a Lambda ``handler(event, context)``.

::

    @last_line_of_defence(lambda error, event: {"statusCode": 500, "body": '{"error": "internal error"}'})
    def handler(event, context): ...

For the whole invocation the Lambda context's ``request_id`` (and ``function_name``) is bound to every log
line (:func:`lambdaform_kit.logs.bind`). An exception that escapes the handler is logged once, with its
traceback and the request id (not again if a line already carried that exception's traceback), and the
handler answers ``error_result(error, event)`` instead: a generic 500 for HTTP and WebSocket routes, or
:func:`reraise` for asynchronous or SQS workers whose failed invocations Lambda should retry. The error
result decides what the caller sees; exception text belongs in the log, not in it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

from lambdaform_kit.logs import LOGGED_MARK, bind, get_logger

T = TypeVar("T")
Handler = Callable[[Any, Any], T]
ErrorResult = Callable[[Exception, Any], T]
"""``(error, event) -> result`` the handler answers with when ``error`` escaped it."""

DEFAULT_MESSAGE = "unexpected error"


def reraise(error: Exception, _event: Any) -> NoReturn:
    """Error result for workers: log, then fail the invocation so Lambda's retry (and DLQ) applies."""
    raise error


def last_line_of_defence(
    error_result: ErrorResult[T], *, logger: logging.Logger | None = None, message: str = DEFAULT_MESSAGE
) -> Callable[[Handler[T]], Handler[T]]:
    """Decorate a handler so that an unexpected exception is logged and answered with ``error_result``.

    ``logger`` defaults to the handler module's logger; ``message`` is the log line's message.
    """

    def decorate(handler: Handler[T]) -> Handler[T]:
        log = logger if logger is not None else get_logger(handler.__module__ or "lambdaform_kit")

        @functools.wraps(handler)
        def guarded(event: Any, context: Any) -> T:
            with bind(context):
                try:
                    return handler(event, context)
                except Exception as error:  # the last line of defence: nothing escapes unlogged
                    if not getattr(error, LOGGED_MARK, False):
                        log.exception(message)
                    return error_result(error, event)

        return guarded

    return decorate
