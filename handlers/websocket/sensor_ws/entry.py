"""The one entry shape every WebSocket route handler shares.

A route handler is ``handler = route(body)``: ``route`` reads the connection id, binds it and the request id
to every log line, loads the configuration, and is the last line of defence (a Lambda handler answers with a
generic 500, it never raises). ``body(event, connection_id, config)`` holds only what the route does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sensor_ws import events
from sensor_ws.config import Config, ConfigError, get_config
from sensor_ws.log import bind, get_logger

Result = dict[str, Any]
RouteBody = Callable[[dict[str, Any], str, Config], Result]


def route(body: RouteBody) -> Callable[[dict[str, Any], Any], Result]:
    """Wrap ``body`` into a Lambda handler ``(event, context) -> result``."""

    def handler(event: dict[str, Any], context: Any) -> Result:
        logger = get_logger()
        try:
            connection_id = events.connection_id(event)
        except events.EventError as error:
            with bind(None, context):
                logger.error("rejected event", extra={"fields": {"reason": str(error)}})
            return events.server_error()
        with bind(connection_id, context):
            try:
                try:
                    config = get_config()
                except ConfigError as error:
                    logger.error(str(error))
                    return events.server_error()
                return body(event, connection_id, config)
            except Exception:  # the last line of defence: a Lambda handler answers, it does not raise
                logger.exception("unexpected error")
                return events.server_error()

    handler.__doc__ = body.__doc__
    return handler
