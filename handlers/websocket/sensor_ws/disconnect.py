"""``$disconnect``: forget the connection. Deleting an absent connection succeeds (idempotent)."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdaform_kit.logs import get_logger

from sensor_ws import events, store
from sensor_ws.config import Config
from sensor_ws.entry import route

logger = get_logger(__name__)


def _disconnect(event: dict[str, Any], connection_id: str, config: Config) -> dict[str, Any]:
    """Delete the connection's item."""
    try:
        store.delete_connection(config.connections_table, connection_id)
    except (ClientError, BotoCoreError):
        logger.error("could not remove connection", exc_info=True)
        return events.server_error()
    logger.info("disconnected")
    return events.ok()


handler = route(_disconnect)
