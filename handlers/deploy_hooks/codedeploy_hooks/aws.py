"""boto3 clients, from the kit's per-container cache (:mod:`lambdaform_kit.clients`)."""

from __future__ import annotations

from typing import Any

from botocore.config import Config
from lambdaform_kit import clients

# Standard retry mode backs off on throttling and transient errors; short connect and read timeouts
# keep a hook well inside its Lambda timeout even when an API is slow.
_CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 5},
    connect_timeout=5,
    read_timeout=20,
)


def client(service_name: str) -> Any:
    """The cached client for ``service_name`` (``"ecs"``, ``"cloudwatch"``, ``"codedeploy"``)."""
    return clients.client(service_name, config=_CLIENT_CONFIG)


def reset_clients() -> None:
    """Forget cached clients, so the next :func:`client` call builds a new one (used by tests)."""
    clients.reset()
