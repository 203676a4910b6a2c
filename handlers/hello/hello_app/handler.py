"""A Function URL handler: ``GET /?name=Ada`` answers ``{"message": "Hello, Ada!"}``.

Function URL events use API Gateway's payload format 2.0 (``rawPath``, ``queryStringParameters``,
``requestContext.http.method``). Bad input gets a 4xx answer; an unexpected error a 500, never a crash.
"""

from __future__ import annotations

import json
import os
from typing import Any

from lambdaform_kit.defence import last_line_of_defence
from lambdaform_kit.logs import get_logger

log = get_logger("hello_app")
MAX_NAME = 64


def _answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _server_error(_error: Exception, _event: Any) -> dict[str, Any]:
    return _answer(500, {"error": "internal error"})


@last_line_of_defence(_server_error, logger=log)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    method = (event.get("requestContext") or {}).get("http", {}).get("method", "GET")
    if method != "GET":
        return _answer(405, {"error": f"{method} is not allowed; use GET"})
    name = ((event.get("queryStringParameters") or {}).get("name") or os.environ.get("DEFAULT_NAME", "world"))
    name = name.strip()
    if not name or len(name) > MAX_NAME or not name.replace(" ", "").replace("-", "").isalnum():
        return _answer(400, {"error": f"name must be 1-{MAX_NAME} letters, digits, spaces or hyphens"})
    log.info("greeted", extra={"name_length": len(name)})
    return _answer(200, {"message": f"Hello, {name}!"})
