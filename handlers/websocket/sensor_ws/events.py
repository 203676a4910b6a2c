"""Reading API Gateway WebSocket events and shaping the results handlers return."""

from __future__ import annotations

import json
from typing import Any

from sensor_ws.config import Config

GENERIC_ERROR = "Internal server error"


class EventError(ValueError):
    """The event is not a usable API Gateway WebSocket event (an integration fault, not a client one)."""


def request_context(event: Any) -> dict[str, Any]:
    """The event's requestContext, or EventError."""
    context = event.get("requestContext") if isinstance(event, dict) else None
    if not isinstance(context, dict):
        raise EventError("event has no requestContext")
    return context


def connection_id(event: Any) -> str:
    """The caller's connectionId, or EventError."""
    value = request_context(event).get("connectionId")
    if not isinstance(value, str) or not value:
        raise EventError("requestContext has no connectionId")
    return value


def callback_endpoint(event: Any, config: Config) -> str:
    """Management API URL: WEBSOCKET_ENDPOINT if set, else ``https://{domainName}/{stage}`` from the event."""
    if config.websocket_endpoint:
        return config.websocket_endpoint
    context = request_context(event)
    domain, stage = context.get("domainName"), context.get("stage")
    if not isinstance(domain, str) or not domain or "/" in domain or "@" in domain:
        raise EventError("requestContext has no usable domainName and WEBSOCKET_ENDPOINT is not set")
    if not isinstance(stage, str) or not stage or "/" in stage:
        raise EventError("requestContext has no usable stage and WEBSOCKET_ENDPOINT is not set")
    return f"https://{domain}/{stage}"


def ok() -> dict[str, Any]:
    return {"statusCode": 200}


def bad_request(reason: str) -> dict[str, Any]:
    return {"statusCode": 400, "body": json.dumps({"error": reason})}


def gone() -> dict[str, Any]:
    return {"statusCode": 410, "body": json.dumps({"error": "connection gone"})}


def server_error() -> dict[str, Any]:
    """A 500 whose body never carries exception text."""
    return {"statusCode": 500, "body": json.dumps({"error": GENERIC_ERROR})}
