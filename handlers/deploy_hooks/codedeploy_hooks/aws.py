"""boto3 clients, created once per Lambda container and reused across invocations."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode backs off on throttling and transient errors; short connect and read timeouts
# keep a hook well inside its Lambda timeout even when an API is slow.
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=20,
)

_clients: dict[str, Any] = {}


def client(service_name: str) -> Any:
    """The cached client for ``service_name`` (``"ecs"``, ``"cloudwatch"``, ``"codedeploy"``)."""
    if service_name not in _clients:
        _clients[service_name] = boto3.client(service_name, config=_CLIENT_CONFIG)
    return _clients[service_name]


def reset_clients() -> None:
    """Forget cached clients, so the next :func:`client` call builds a new one (used by tests)."""
    _clients.clear()
