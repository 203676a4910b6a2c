"""Configuration from environment variables, read and validated once per container."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_BEDROCK_ID = re.compile(r"^[0-9A-Za-z]{1,10}$")
_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
ANALYSIS_BACKENDS = ("local", "bedrock")


class ConfigError(ValueError):
    """The environment does not describe a usable configuration; the message lists every problem."""


@dataclass(frozen=True)
class Config:
    """Validated settings. Durations carry their unit in the name."""

    connections_table: str
    sensor_data_table: str
    websocket_endpoint: str | None
    """Management API callback URL; None means derive ``https://{domainName}/{stage}`` from each event."""
    aggregation_window_ms: int = 2000
    max_aggregation_size: int = 50
    connection_ttl_seconds: int = 3600
    sensor_data_ttl_seconds: int = 86400
    max_message_bytes: int = 32768
    analysis_backend: str = "local"
    bedrock_agent_id: str | None = None
    bedrock_agent_alias_id: str | None = None


def _optional(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _integer(env: Mapping[str, str], name: str, default: int, low: int, high: int, problems: list[str]) -> int:
    raw = _optional(env, name)
    if raw is None:
        return default
    try:
        value = int(raw, 10)
    except ValueError:
        problems.append(f"{name} must be an integer between {low} and {high} (got {raw!r})")
        return default
    if not low <= value <= high:
        problems.append(f"{name} must be between {low} and {high} (got {value})")
    return value


def _endpoint(raw: str | None, problems: list[str]) -> str | None:
    if raw is None:
        return None
    parts = urlsplit(raw)
    secure = parts.scheme == "https"
    local = parts.scheme == "http" and parts.hostname in _LOOPBACK_HOSTS
    if not parts.hostname or not (secure or local) or parts.query or parts.fragment:
        problems.append(
            "WEBSOCKET_ENDPOINT must be an https URL such as https://abc123.execute-api.us-east-1.amazonaws.com/prod"
            f" (plain http only for a loopback emulator; got {raw!r})"
        )
        return None
    return raw.rstrip("/")


def load_config(env: Mapping[str, str]) -> Config:
    """Build a Config from ``env``; raise ConfigError naming every invalid or missing variable."""
    problems: list[str] = []
    tables = {}
    for name in ("CONNECTIONS_TABLE", "SENSOR_DATA_TABLE"):
        value = _optional(env, name)
        if value is None:
            problems.append(f"{name} is required")
        elif not _TABLE_NAME.match(value):
            problems.append(f"{name} is not a valid DynamoDB table name (got {value!r})")
        tables[name] = value or ""

    backend = (_optional(env, "ANALYSIS_BACKEND") or "local").lower()
    if backend not in ANALYSIS_BACKENDS:
        problems.append(f"ANALYSIS_BACKEND must be one of {', '.join(ANALYSIS_BACKENDS)} (got {backend!r})")
    agent_ids = {}
    for name in ("BEDROCK_AGENT_ID", "BEDROCK_AGENT_ALIAS_ID"):
        value = _optional(env, name)
        if value is None and backend == "bedrock":
            problems.append(f"{name} is required when ANALYSIS_BACKEND is bedrock")
        elif value is not None and not _BEDROCK_ID.match(value):
            problems.append(f"{name} must be 1-10 letters or digits (got {value!r})")
        agent_ids[name] = value

    config = Config(
        connections_table=tables["CONNECTIONS_TABLE"],
        sensor_data_table=tables["SENSOR_DATA_TABLE"],
        websocket_endpoint=_endpoint(_optional(env, "WEBSOCKET_ENDPOINT"), problems),
        aggregation_window_ms=_integer(env, "AGGREGATION_WINDOW_MS", 2000, 1, 86_400_000, problems),
        max_aggregation_size=_integer(env, "MAX_AGGREGATION_SIZE", 50, 1, 1000, problems),
        connection_ttl_seconds=_integer(env, "CONNECTION_TTL_SECONDS", 3600, 60, 31_536_000, problems),
        sensor_data_ttl_seconds=_integer(env, "SENSOR_DATA_TTL_SECONDS", 86400, 60, 31_536_000, problems),
        max_message_bytes=_integer(env, "MAX_MESSAGE_BYTES", 32768, 64, 131_072, problems),
        analysis_backend=backend,
        bedrock_agent_id=agent_ids["BEDROCK_AGENT_ID"],
        bedrock_agent_alias_id=agent_ids["BEDROCK_AGENT_ALIAS_ID"],
    )
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return config


_config: Config | None = None


def get_config() -> Config:
    """The container's Config, read from os.environ on first use. A failed read is retried next call."""
    global _config
    if _config is None:
        _config = load_config(os.environ)
    return _config


def reset_config() -> None:
    """Forget the cached Config so the next get_config() re-reads the environment (for tests)."""
    global _config
    _config = None
