"""``$disconnect``: forget the connection. Deleting an absent connection succeeds (idempotent)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from sensor_ws import events, store
from sensor_ws.config import ConfigError, get_config
from sensor_ws.log import bind, get_logger


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger = get_logger()
    try:
        connection_id = events.connection_id(event)
    except events.EventError as error:
        with bind(None, context):
            logger.error("rejected event", extra={"fields": {"reason": str(error)}})
        return events.server_error()
    with bind(connection_id, context):
        try:
            return _disconnect(connection_id)
        except Exception:  # the last line of defence: a Lambda handler answers, it does not raise
            logger.exception("unexpected error")
            return events.server_error()


def _disconnect(connection_id: str) -> dict[str, Any]:
    logger = get_logger()
    try:
        config = get_config()
    except ConfigError as error:
        logger.error(str(error))
        return events.server_error()
    try:
        store.delete_connection(config.connections_table, connection_id)
    except (ClientError, BotoCoreError):
        logger.error("could not remove connection", exc_info=True)
        return events.server_error()
    logger.info("disconnected")
    return events.ok()
