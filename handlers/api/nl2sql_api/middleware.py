"""ASGI middleware: one structured access-log line per request, and a last-resort 500.

Unexpected exceptions are turned into ``500 {"error": "internal error"}`` here rather than with
``app.add_exception_handler(Exception, ...)``: Starlette re-raises after running such a handler,
which would make Mangum log a second, unstructured traceback for every failure.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

INTERNAL_ERROR_BODY = json.dumps({"error": "internal error"}).encode()


def lambda_request_id(scope: Scope) -> str | None:
    """The AWS request id of the Lambda invocation serving this request (Mangum puts the
    Lambda context in the ASGI scope), or None when running outside Lambda."""
    context = scope.get("aws.context")
    return getattr(context, "aws_request_id", None) if context is not None else None


class RequestLogMiddleware:
    """Logs method, path, status, duration_ms and request_id of every HTTP request, and answers
    any exception that escapes the app with a JSON 500 that never includes a stack trace."""

    def __init__(self, app: ASGIApp, logger: logging.Logger) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        started = time.perf_counter()
        status: int | None = None
        fields: dict[str, Any] = {
            "method": scope["method"],
            "path": scope["path"],
            "request_id": lambda_request_id(scope),
        }

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        except Exception:
            self.logger.error(
                "unhandled exception",
                exc_info=True,
                extra={**fields, "event": "unhandled_exception"},
            )
            if status is not None:
                # Headers already went out; all we can do is end the response.
                raise
            status = 500
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(INTERNAL_ERROR_BODY)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": INTERNAL_ERROR_BODY})
        finally:
            self.logger.info(
                "request",
                extra={
                    **fields,
                    "event": "request",
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                },
            )
