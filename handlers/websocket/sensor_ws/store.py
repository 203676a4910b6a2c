"""DynamoDB access: the connections table and the sensor-data table.

connections: hash ``connectionId`` (S); items ``{connectionId, connectedAt (ms), ttl (epoch s)}``.
sensor-data: hash ``connectionId`` (S), range ``timestamp`` (N, ms); items also hold ``sensorId``,
``type``, ``value``, optional ``unit``, ``receivedAt`` (ms) and ``ttl`` (epoch s), so DynamoDB TTL
expires old readings.
"""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from sensor_ws import clients
from sensor_ws.validation import Reading

MAX_TIMESTAMP_COLLISIONS = 10
"""Two readings of one connection in the same millisecond would share a key; the later one moves on by
1 ms, up to this many times, instead of silently overwriting the earlier one."""


def put_connection(table_name: str, connection_id: str, now_ms: int, ttl_seconds: int) -> dict[str, Any]:
    item = {"connectionId": connection_id, "connectedAt": now_ms, "ttl": now_ms // 1000 + ttl_seconds}
    clients.dynamodb().Table(table_name).put_item(Item=item)
    return item


def delete_connection(table_name: str, connection_id: str) -> None:
    """Delete the connection's item; deleting an absent item succeeds."""
    clients.dynamodb().Table(table_name).delete_item(Key={"connectionId": connection_id})


def put_reading(table_name: str, connection_id: str, reading: Reading, now_ms: int, ttl_seconds: int) -> dict[str, Any]:
    """Store a reading and return the stored item (its ``timestamp`` may be shifted past a collision)."""
    item: dict[str, Any] = {
        "connectionId": connection_id,
        "timestamp": reading.timestamp_ms,
        "sensorId": reading.sensor_id,
        "type": reading.type,
        "value": reading.value,
        "receivedAt": now_ms,
        "ttl": now_ms // 1000 + ttl_seconds,
    }
    if reading.unit is not None:
        item["unit"] = reading.unit
    table = clients.dynamodb().Table(table_name)
    collisions = 0
    while True:
        try:
            table.put_item(
                Item=item,
                ConditionExpression="attribute_not_exists(#ts)",
                ExpressionAttributeNames={"#ts": "timestamp"},
            )
            return item
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code")
            if code != "ConditionalCheckFailedException" or collisions >= MAX_TIMESTAMP_COLLISIONS:
                raise
        collisions += 1
        item["timestamp"] += 1


def recent_readings(table_name: str, connection_id: str, since_ms: int, limit: int) -> list[dict[str, Any]]:
    """This connection's readings with ``timestamp >= since_ms``, newest first, at most ``limit`` of them."""
    response = clients.dynamodb().Table(table_name).query(
        KeyConditionExpression=Key("connectionId").eq(connection_id) & Key("timestamp").gte(since_ms),
        ScanIndexForward=False,
        Limit=limit,
    )
    return list(response.get("Items", []))
