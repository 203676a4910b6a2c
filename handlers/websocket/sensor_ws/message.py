"""``sensor-data`` route: validate, store, aggregate the recent window, describe it, reply on the socket."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdaform_kit.logs import get_logger

from sensor_ws import clock, events, replies, store
from sensor_ws.analysis import backend_from_config, build_aggregate
from sensor_ws.config import Config
from sensor_ws.entry import route
from sensor_ws.validation import InvalidMessage, parse_message

logger = get_logger(__name__)

INTERNAL_ERROR_FRAME = "internal error"
ANALYSIS_ERROR_FRAME = "analysis unavailable"


def _message(event: dict[str, Any], connection_id: str, config: Config) -> dict[str, Any]:
    """Validate and store the reading, describe the connection's recent window, post the reply."""
    try:
        endpoint = events.callback_endpoint(event, config)
    except events.EventError as error:
        logger.error("rejected event", extra={"reason": str(error)})
        return events.server_error()

    def fail(reason: str, status: dict[str, Any]) -> dict[str, Any]:
        replies.send_error(endpoint, connection_id, reason, config.connections_table)
        return status

    now_ms = clock.now_ms()
    try:
        reading = parse_message(event, config.max_message_bytes, now_ms)
    except InvalidMessage as error:
        logger.warning("rejected message", extra={"reason": str(error)})
        return fail(str(error), events.bad_request(str(error)))

    try:
        item = store.put_reading(
            config.sensor_data_table, connection_id, reading, now_ms, config.sensor_data_ttl_seconds
        )
        items = store.recent_readings(
            config.sensor_data_table,
            connection_id,
            since_ms=now_ms - config.aggregation_window_ms,
            limit=config.max_aggregation_size,
        )
    except (ClientError, BotoCoreError):
        logger.error("sensor-data table request failed", exc_info=True)
        return fail(INTERNAL_ERROR_FRAME, events.server_error())
    logger.info(
        "reading stored",
        extra={"sensorId": reading.sensor_id, "sensorType": reading.type, "timestamp": item["timestamp"]},
    )
    logger.debug("reading value", extra={"sensorId": reading.sensor_id, "value": str(reading.value)})

    aggregate = build_aggregate(connection_id, items, config.aggregation_window_ms, config.max_aggregation_size)
    try:
        text = backend_from_config(config).analyze(aggregate)
    except (ClientError, BotoCoreError):
        logger.error("analysis backend failed", exc_info=True)
        return fail(ANALYSIS_ERROR_FRAME, events.server_error())
    if not text:
        logger.info("no description to send", extra={"readingCount": aggregate["count"]})
        return events.ok()

    result = replies.send(
        endpoint,
        connection_id,
        {"type": "ai-description", "data": text, "aggregate": aggregate},
        config.connections_table,
    )
    if result is replies.SendResult.GONE:
        return events.gone()
    if result is replies.SendResult.FAILED:
        return events.server_error()
    logger.info("description sent", extra={"readingCount": aggregate["count"]})
    return events.ok()


handler = route(_message)
