"""The HTTP API: ``order_pipeline.api.handler`` (API Gateway HTTP API, payload format 2.0).

Routes (the ``routeKey`` API Gateway matched):

* ``POST /orders`` with ``{"customer": str, "items": [{"sku": str, "qty": int > 0, "price": number >= 0}]}``:
  the order is written to ``ORDERS_TABLE`` (id uuid4, status ``received``, its total), one job
  ``{"order_id": ...}`` goes to ``JOBS_QUEUE_URL``, and the answer is 201 with the order.
  Bad JSON or a wrong field: 400 ``{"error": <reason>}``.
* ``GET /orders/{id}``: 200 with the order, or 404.
* anything else: 404 ``{"error": "no route ..."}``.

An unexpected failure (a missing environment variable, DynamoDB or SQS refusing) is logged with the request
id and answered 500 ``{"error": "internal error"}``; the reason stays in the log. If the job cannot be sent
after the order was written, the order stays ``received`` (the nightly report counts it) and the caller
gets the 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from decimal import Decimal
from typing import Any

from lambdaform_kit.defence import last_line_of_defence
from lambdaform_kit.logs import append_fields, get_logger

from order_pipeline import config, jobs, store
from order_pipeline.orders import InvalidOrder, Order, parse_new_order

logger = get_logger(__name__)

Response = dict[str, Any]

CREATE = "POST /orders"
READ = "GET /orders/{id}"
MAX_ID_CHARS = 64


class BadRequest(ValueError):
    """The request cannot be read; the message is safe to return."""


def respond(status: int, body: Any) -> Response:
    return {"statusCode": status, "headers": {"content-type": "application/json"},
            "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False)}


def _server_error(_error: Exception, _event: Any) -> Response:
    return respond(500, {"error": "internal error"})


def _reject_constant(name: str) -> Any:
    raise BadRequest(f"the body is not valid JSON ({name} is not a number)")


def json_body(event: dict[str, Any]) -> Any:
    """The request body parsed as JSON, numbers with a fraction as Decimal; BadRequest when it is not JSON."""
    raw = event.get("body")
    if raw is None or raw == "":
        raise BadRequest("the body is empty; send a JSON object with customer and items")
    if not isinstance(raw, str):
        raise BadRequest("the body must be text")
    if event.get("isBase64Encoded"):
        try:
            raw = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest("the body is not valid base64-encoded UTF-8") from None
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise BadRequest(f"the body is not valid JSON ({error.msg} at line {error.lineno} column {error.colno})") from None


def create_order(event: dict[str, Any]) -> Response:
    try:
        new = parse_new_order(json_body(event))
    except (BadRequest, InvalidOrder) as error:
        logger.info("order rejected", extra={"reason": str(error)})
        return respond(400, {"error": str(error)})
    table, queue_url = config.required(config.ORDERS_TABLE), config.required(config.JOBS_QUEUE_URL)
    order = Order.create(new)
    append_fields(order_id=order.id)
    store.put(table, order)
    jobs.enqueue(queue_url, [order.id])
    logger.info("order received", extra={"items": len(order.items), "total": str(order.total)})
    return respond(201, order.to_json())


def read_order(event: dict[str, Any]) -> Response:
    order_id = (event.get("pathParameters") or {}).get("id")
    if not isinstance(order_id, str) or not order_id or len(order_id) > MAX_ID_CHARS:
        return respond(404, {"error": "order not found"})
    order = store.get(config.required(config.ORDERS_TABLE), order_id)
    if order is None:
        return respond(404, {"error": f"order {order_id} not found"})
    return respond(200, order.to_json())


ROUTES = {CREATE: create_order, READ: read_order}


@last_line_of_defence(_server_error, logger=logger)
def handler(event: Any, context: Any) -> Response:
    """Answer one HTTP API request (see the module docstring for the routes)."""
    route_key = event.get("routeKey") if isinstance(event, dict) else None
    route = ROUTES.get(route_key) if isinstance(route_key, str) else None
    if route is None:
        return respond(404, {"error": f"no route {route_key!s}"})
    append_fields(route=route_key)
    return route(event)
