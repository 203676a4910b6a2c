"""Aggregating a window of readings and describing the aggregate.

Two interchangeable backends implement ``AnalysisBackend.analyze(aggregate) -> str``:

- ``LocalAnalysisBackend``: deterministic text computed from the aggregate (tests, emulator runs).
- ``BedrockAgentBackend``: an Amazon Bedrock agent, called through ``bedrock-agent-runtime``
  ``InvokeAgent`` with the connection as the agent session, its streamed chunks joined into one text.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from sensor_ws import clients
from sensor_ws.config import Config

_SESSION_ID_SAFE = re.compile(r"[0-9A-Za-z:-]")


def build_aggregate(
    connection_id: str, items: Iterable[Mapping[str, Any]], window_ms: int, limit: int
) -> dict[str, Any]:
    """Summarise readings (newest first, as the window query returns them) per sensor and type.

    The result is JSON-serialisable: ``connectionId``, ``windowMs``, ``count``, ``truncated`` (the query
    hit ``limit``, so older readings in the window were left out), ``sensorCount``, ``fromTimestamp``,
    ``toTimestamp`` and ``sensors``: one entry per (sensorId, type) with ``unit``, ``count``, ``min``,
    ``max``, ``mean``, ``last`` and ``lastTimestamp``, sorted by sensorId then type.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    timestamps: list[int] = []
    for item in items:
        timestamp, value = int(item["timestamp"]), float(item["value"])
        timestamps.append(timestamp)
        key = (str(item["sensorId"]), str(item["type"]))
        group = groups.setdefault(key, {"sensorId": key[0], "type": key[1], "lastTimestamp": -1, "values": []})
        group["values"].append(value)
        if timestamp > group["lastTimestamp"]:
            group.update(unit=item.get("unit"), last=value, lastTimestamp=timestamp)
    sensors = []
    for key in sorted(groups):
        group = groups[key]
        values = group.pop("values")
        sensors.append(
            {
                **group,
                "count": len(values),
                "min": min(values),
                "max": max(values),
                "mean": math.fsum(values) / len(values),
            }
        )
    return {
        "connectionId": connection_id,
        "windowMs": window_ms,
        "count": len(timestamps),
        "truncated": len(timestamps) >= limit,
        "sensorCount": len({sensor["sensorId"] for sensor in sensors}),
        "fromTimestamp": min(timestamps) if timestamps else None,
        "toTimestamp": max(timestamps) if timestamps else None,
        "sensors": sensors,
    }


class AnalysisBackend(Protocol):
    def analyze(self, aggregate: dict[str, Any]) -> str:
        """A human-readable description of the aggregate; empty text means nothing to say."""
        ...


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class LocalAnalysisBackend:
    """Deterministic description, e.g. ``3 readings from 2 sensors; temp-1 temperature mean 21.5 C (min 21,
    max 22, last 22); ...``. Empty text for an empty aggregate."""

    def analyze(self, aggregate: dict[str, Any]) -> str:
        if not aggregate.get("count"):
            return ""
        head = f"{_plural(aggregate['count'], 'reading')} from {_plural(aggregate['sensorCount'], 'sensor')}"
        if aggregate.get("truncated"):
            head += " (latest only)"
        parts = []
        for sensor in aggregate["sensors"]:
            unit = f" {sensor['unit']}" if sensor.get("unit") else ""
            parts.append(
                f"{sensor['sensorId']} {sensor['type']} mean {_fmt(sensor['mean'])}{unit}"
                f" (min {_fmt(sensor['min'])}, max {_fmt(sensor['max'])}, last {_fmt(sensor['last'])})"
            )
        return head + "; " + "; ".join(parts)


def session_id_for(connection_id: str) -> str:
    """A Bedrock agent sessionId (2-100 of ``[0-9a-zA-Z._:-]``) that is distinct per connectionId.

    API Gateway connection ids are base64-like (``L0SM9cOFvHcCIhw=``); characters outside the allowed set
    and the escape character ``.`` itself are written as ``.XX`` hex, so distinct ids stay distinct. Ids
    that would not fit become a SHA-256 digest.
    """
    escaped = "".join(
        char if _SESSION_ID_SAFE.match(char) else "".join(f".{byte:02x}" for byte in char.encode("utf-8"))
        for char in connection_id
    )
    if 2 <= len(escaped) <= 100:
        return escaped
    return "sha256-" + hashlib.sha256(connection_id.encode("utf-8")).hexdigest()


def build_prompt(aggregate: dict[str, Any]) -> str:
    summary = {key: value for key, value in aggregate.items() if key != "connectionId"}
    return (
        "You monitor IoT sensors. Describe the following aggregate of one client's most recent sensor "
        f"readings (a {aggregate.get('windowMs')} ms window) in two or three short sentences for an "
        "operator, and point out anything unusual. Aggregate as JSON:\n"
        + json.dumps(summary, sort_keys=True)
    )


class BedrockAgentBackend:
    """Ask a Bedrock agent; the agent session is the WebSocket connection, so it keeps context per client."""

    def __init__(self, agent_id: str, agent_alias_id: str, client: Any | None = None) -> None:
        self.agent_id = agent_id
        self.agent_alias_id = agent_alias_id
        self._client = client

    def analyze(self, aggregate: dict[str, Any]) -> str:
        client = self._client if self._client is not None else clients.bedrock_agent_runtime()
        response = client.invoke_agent(
            agentId=self.agent_id,
            agentAliasId=self.agent_alias_id,
            sessionId=session_id_for(str(aggregate["connectionId"])),
            inputText=build_prompt(aggregate),
        )
        parts = [
            event["chunk"]["bytes"]
            for event in response["completion"]
            if isinstance(event.get("chunk"), dict) and event["chunk"].get("bytes")
        ]
        # Join bytes before decoding: a multi-byte character may be split across chunks.
        return b"".join(parts).decode("utf-8", errors="replace").strip()


def backend_from_config(config: Config) -> AnalysisBackend:
    if config.analysis_backend == "bedrock":
        assert config.bedrock_agent_id and config.bedrock_agent_alias_id  # enforced by load_config
        return BedrockAgentBackend(config.bedrock_agent_id, config.bedrock_agent_alias_id)
    return LocalAnalysisBackend()
