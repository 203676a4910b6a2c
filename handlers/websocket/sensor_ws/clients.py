"""boto3 clients and resources, created once per container on first use.

boto3 honours AWS_ENDPOINT_URL (and the per-service AWS_ENDPOINT_URL_<SERVICE>) by itself, so emulator
runs need no special case here. The Management API client is the exception by design: its endpoint is
the WebSocket API's own callback URL, so one client is kept per URL.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config as BotoConfig

_lock = threading.Lock()
_dynamodb: Any = None
_bedrock_agent_runtime: Any = None
_management_api: dict[str, Any] = {}

# Posting a frame is quick or the connection is broken; do not let retries eat the function's timeout.
_MANAGEMENT_API_CONFIG = BotoConfig(connect_timeout=3, read_timeout=5, retries={"mode": "standard", "max_attempts": 3})
# An agent streams its answer; allow it time, but retry only on throttling-style errors (standard mode).
_BEDROCK_CONFIG = BotoConfig(connect_timeout=5, read_timeout=60, retries={"mode": "standard", "max_attempts": 3})


def dynamodb() -> Any:
    """The DynamoDB service resource."""
    global _dynamodb
    with _lock:
        if _dynamodb is None:
            _dynamodb = boto3.resource("dynamodb")
        return _dynamodb


def bedrock_agent_runtime() -> Any:
    """The bedrock-agent-runtime client."""
    global _bedrock_agent_runtime
    with _lock:
        if _bedrock_agent_runtime is None:
            _bedrock_agent_runtime = boto3.client("bedrock-agent-runtime", config=_BEDROCK_CONFIG)
        return _bedrock_agent_runtime


def management_api(endpoint_url: str) -> Any:
    """The API Gateway Management API client for one WebSocket callback URL."""
    with _lock:
        client = _management_api.get(endpoint_url)
        if client is None:
            client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint_url, config=_MANAGEMENT_API_CONFIG)
            _management_api[endpoint_url] = client
        return client


def reset_clients() -> None:
    """Drop every cached client so the next call builds fresh ones (for tests)."""
    global _dynamodb, _bedrock_agent_runtime
    with _lock:
        _dynamodb = None
        _bedrock_agent_runtime = None
        _management_api.clear()
