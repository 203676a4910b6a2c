"""Strict parsing of a ``sensor-data`` message into a Reading.

Every failure raises InvalidMessage with a short reason that is safe to send back to the client: reasons
are fixed strings and never echo the client's input.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import json
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT

ACTION = "sensor-data"
MAX_SENSOR_ID_CHARS = 128
MAX_TYPE_CHARS = 64
MAX_UNIT_CHARS = 32
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
"""A client timestamp may run this far ahead of the server clock."""

_TOP_LEVEL_FIELDS = frozenset({"action", "data"})
_REQUIRED_FIELDS = ("sensorId", "type", "value")
_DATA_FIELDS = frozenset({*_REQUIRED_FIELDS, "unit", "timestamp"})


class InvalidMessage(ValueError):
    """The message is not an acceptable sensor-data message; ``str(exc)`` is the client-facing reason."""


@dataclass(frozen=True)
class Reading:
    sensor_id: str
    type: str
    value: Decimal
    unit: str | None
    timestamp_ms: int


def _reject_constant(name: str) -> Any:
    raise InvalidMessage("message contains NaN or Infinity, which are not JSON")


def decode_body(event: dict[str, Any], max_bytes: int) -> str:
    """The event body as text, enforcing the size limit on its bytes."""
    body = event.get("body")
    if body is None or body == "":
        raise InvalidMessage("message body is empty")
    if not isinstance(body, str):
        raise InvalidMessage("message body must be text")
    if event.get("isBase64Encoded"):
        if len(body) > (max_bytes * 4) // 3 + 4:
            raise InvalidMessage(f"message exceeds {max_bytes} bytes")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidMessage("message body is not valid base64") from None
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidMessage("message body is not valid UTF-8 text") from None
    if len(raw) > max_bytes:
        raise InvalidMessage(f"message exceeds {max_bytes} bytes")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidMessage("message body is not valid UTF-8 text") from None


def _text(data: dict[str, Any], name: str, max_chars: int, allow_empty: bool = False) -> str:
    value = data[name]
    if not isinstance(value, str):
        raise InvalidMessage(f"data.{name} must be a string")
    if not allow_empty and not value.strip():
        raise InvalidMessage(f"data.{name} must not be empty")
    if len(value) > max_chars:
        raise InvalidMessage(f"data.{name} must be at most {max_chars} characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidMessage(f"data.{name} is not valid Unicode text") from None
    return value


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidMessage("data.value must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidMessage("data.value must be a finite number")
    try:
        # The context DynamoDB's serializer uses: 38 significant digits, exponent range -130..125.
        return DYNAMODB_CONTEXT.create_decimal(str(value) if isinstance(value, float) else value)
    except decimal.DecimalException:
        raise InvalidMessage("data.value has more precision or magnitude than DynamoDB can store") from None


def _timestamp(value: Any, now_ms: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidMessage("data.timestamp must be an integer number of milliseconds since the epoch")
    if value <= 0:
        raise InvalidMessage("data.timestamp must be positive")
    if value > now_ms + MAX_CLOCK_SKEW_MS:
        raise InvalidMessage("data.timestamp is too far in the future")
    return value


def parse_message(event: dict[str, Any], max_bytes: int, now_ms: int) -> Reading:
    """Validate the event's body as ``{"action": "sensor-data", "data": {...}}``; InvalidMessage if not."""
    text = decode_body(event, max_bytes)
    try:
        message = json.loads(text, parse_constant=_reject_constant)
    except InvalidMessage:
        raise
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError and integers beyond Python's digit limit.
        raise InvalidMessage("message is not valid JSON") from None
    if not isinstance(message, dict):
        raise InvalidMessage("message must be a JSON object")
    if set(message) - _TOP_LEVEL_FIELDS:
        raise InvalidMessage("message has unknown fields (allowed: action, data)")
    if message.get("action") != ACTION:
        raise InvalidMessage(f'message action must be "{ACTION}"')
    data = message.get("data")
    if not isinstance(data, dict):
        raise InvalidMessage("message data must be a JSON object")
    if set(data) - _DATA_FIELDS:
        raise InvalidMessage("data has unknown fields (allowed: sensorId, type, value, unit, timestamp)")
    missing = [name for name in _REQUIRED_FIELDS if name not in data]
    if missing:
        raise InvalidMessage("data is missing " + ", ".join(missing))
    return Reading(
        sensor_id=_text(data, "sensorId", MAX_SENSOR_ID_CHARS),
        type=_text(data, "type", MAX_TYPE_CHARS),
        value=_number(data["value"]),
        unit=_text(data, "unit", MAX_UNIT_CHARS, allow_empty=True) if data.get("unit") is not None else None,
        timestamp_ms=_timestamp(data["timestamp"], now_ms) if data.get("timestamp") is not None else now_ms,
    )
