"""``$connect``: record the connection with a TTL so abandoned items expire."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdaform_kit.logs import get_logger

from sensor_ws import clock, events, store
from sensor_ws.config import Config
from sensor_ws.entry import route

logger = get_logger(__name__)


def _connect(event: dict[str, Any], connection_id: str, config: Config) -> dict[str, Any]:
    """Store the connection with ``CONNECTION_TTL_SECONDS`` (one hour by default) left to live."""
    try:
        store.put_connection(config.connections_table, connection_id, clock.now_ms(), config.connection_ttl_seconds)
    except (ClientError, BotoCoreError):
        logger.error("could not record connection", exc_info=True)
        return events.server_error()
    logger.info("connected")
    return events.ok()


handler = route(_connect)
