"""The AWS clients the routes use, from the kit's per-container cache (:mod:`lambdaform_kit.clients`).

boto3 honours AWS_ENDPOINT_URL (and the per-service AWS_ENDPOINT_URL_<SERVICE>) by itself, so emulator
runs need no special case here. The Management API client is the exception by design: its endpoint is
the WebSocket API's own callback URL, so one client is kept per URL.
"""

from __future__ import annotations

from typing import Any

from botocore.config import Config as BotoConfig
from lambdaform_kit import clients as kit_clients

# Posting a frame is quick or the connection is broken; do not let retries eat the function's timeout.
_MANAGEMENT_API_CONFIG = BotoConfig(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
# An agent streams its answer; allow it time, but retry only on throttling-style errors (standard mode).
_BEDROCK_CONFIG = BotoConfig(connect_timeout=5, read_timeout=60, retries={"mode": "standard", "max_attempts": 3})


def dynamodb() -> Any:
    """The DynamoDB service resource."""
    return kit_clients.resource("dynamodb")


def bedrock_agent_runtime() -> Any:
    """The bedrock-agent-runtime client."""
    return kit_clients.client("bedrock-agent-runtime", config=_BEDROCK_CONFIG)


def management_api(endpoint_url: str) -> Any:
    """The API Gateway Management API client for one WebSocket callback URL."""
    return kit_clients.client("apigatewaymanagementapi", endpoint_url=endpoint_url, config=_MANAGEMENT_API_CONFIG)


def reset_clients() -> None:
    """Drop every cached client so the next call builds fresh ones (for tests)."""
    kit_clients.reset()
