"""Posting frames back to a WebSocket client through the API Gateway Management API."""

from __future__ import annotations

import enum
import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdaform_kit.logs import get_logger

from sensor_ws import clients, store

logger = get_logger(__name__)


class SendResult(enum.Enum):
    SENT = "sent"
    GONE = "gone"
    """The client has disconnected (GoneException); its connection item was removed."""
    FAILED = "failed"


def send(endpoint_url: str, connection_id: str, payload: dict[str, Any], connections_table: str) -> SendResult:
    """Post ``payload`` as one JSON text frame; never raises.

    A GoneException (HTTP 410) means the connection is stale: its item is deleted from the connections
    table so nothing keeps writing to it. Every other failure is logged and reported as FAILED.
    """
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    try:
        clients.management_api(endpoint_url).post_to_connection(ConnectionId=connection_id, Data=data)
        return SendResult.SENT
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code != "GoneException":
            logger.error("post_to_connection failed", exc_info=True, extra={"errorCode": code})
            return SendResult.FAILED
    except BotoCoreError:
        logger.error("post_to_connection failed", exc_info=True)
        return SendResult.FAILED

    logger.info("connection is gone; removing it")
    try:
        store.delete_connection(connections_table, connection_id)
    except (ClientError, BotoCoreError):
        logger.error("could not remove gone connection", exc_info=True)
    return SendResult.GONE


def send_error(endpoint_url: str, connection_id: str, reason: str, connections_table: str) -> SendResult:
    """Best-effort ``{"type": "error", "error": reason}`` frame."""
    return send(endpoint_url, connection_id, {"type": "error", "error": reason}, connections_table)
