"""The one entry shape every WebSocket route handler shares.

A route handler is ``handler = route(body)``: ``route`` reads the connection id, binds it (``connectionId``)
and the request id to every log line, loads the configuration, and puts the kit's last line of defence
around it (a Lambda handler answers with a generic 500, it never raises). ``body(event, connection_id,
config)`` holds only what the route does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lambdaform_kit.defence import last_line_of_defence
from lambdaform_kit.logs import append_fields, get_logger

from sensor_ws import events
from sensor_ws.config import Config, ConfigError, get_config

Result = dict[str, Any]
RouteBody = Callable[[dict[str, Any], str, Config], Result]

logger = get_logger(__name__)


def _server_error(_error: Exception, _event: Any) -> Result:
    return events.server_error()


def route(body: RouteBody) -> Callable[[dict[str, Any], Any], Result]:
    """Wrap ``body`` into a Lambda handler ``(event, context) -> result``."""

    @last_line_of_defence(_server_error, logger=logger)
    def handler(event: dict[str, Any], context: Any) -> Result:
        try:
            connection_id = events.connection_id(event)
        except events.EventError as error:
            logger.error("rejected event", extra={"reason": str(error)})
            return events.server_error()
        append_fields(connectionId=connection_id)
        try:
            config = get_config()
        except ConfigError as error:
            logger.error(str(error))
            return events.server_error()
        return body(event, connection_id, config)

    handler.__doc__ = body.__doc__
    return handler
