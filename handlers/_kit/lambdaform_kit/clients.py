"""boto3 clients and resources, created once per container and reused across invocations.

One object per (service, region, endpoint URL, botocore config): ``client("s3")`` twice gives the same
client, ``client("s3", region="eu-west-1")`` another one. The key uses the *effective* region and endpoint,
resolved the way boto3 resolves them (explicit argument, else ``AWS_ENDPOINT_URL_<SERVICE>``, else
``AWS_ENDPOINT_URL``, unless ``AWS_IGNORE_CONFIGURED_ENDPOINT_URLS`` is true; ``AWS_REGION``, else
``AWS_DEFAULT_REGION``), so pointing the environment at an emulator gives a client for the emulator. Only an
explicit ``endpoint_url`` is passed to boto3; otherwise boto3 applies its own endpoint configuration.

``config`` (a ``botocore.config.Config``) is part of the key by identity: keep one constant per setting.
boto3 is imported on first use, so importing this module costs nothing.
"""

from __future__ import annotations

import os
import threading
from typing import Any

Key = tuple[str, str, str | None, str | None, Any]

_lock = threading.Lock()
_cache: dict[Key, Any] = {}


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes"}


def effective_endpoint(service: str, endpoint_url: str | None = None) -> str | None:
    """The endpoint URL boto3 would use for ``service`` from the environment (None: AWS's own)."""
    if endpoint_url:
        return endpoint_url
    if _truthy(os.environ.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")):
        return None
    specific = "AWS_ENDPOINT_URL_" + service.upper().replace("-", "_").replace(" ", "_")
    return os.environ.get(specific) or os.environ.get("AWS_ENDPOINT_URL") or None


def effective_region(region: str | None = None) -> str | None:
    """The region boto3 would use from the environment (None: boto3's own configuration decides)."""
    return region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


def _get(kind: str, service: str, region: str | None, endpoint_url: str | None, config: Any) -> Any:
    key: Key = (kind, service, effective_region(region), effective_endpoint(service, endpoint_url), config)
    with _lock:
        found = _cache.get(key)
        if found is None:
            import boto3  # late: only handlers that talk to AWS pay for it

            kwargs: dict[str, Any] = {}
            if region:
                kwargs["region_name"] = region
            if endpoint_url:
                kwargs["endpoint_url"] = endpoint_url
            if config is not None:
                kwargs["config"] = config
            found = getattr(boto3, kind)(service, **kwargs)
            _cache[key] = found
        return found


def client(service: str, *, region: str | None = None, endpoint_url: str | None = None, config: Any = None) -> Any:
    """The cached low-level client for ``service`` (``"s3"``, ``"dynamodb"``, ...)."""
    return _get("client", service, region, endpoint_url, config)


def resource(service: str, *, region: str | None = None, endpoint_url: str | None = None, config: Any = None) -> Any:
    """The cached service resource for ``service`` (``"dynamodb"``, ``"s3"``, ...)."""
    return _get("resource", service, region, endpoint_url, config)


def reset() -> None:
    """Forget every cached client and resource (for tests); the next call builds new ones."""
    with _lock:
        _cache.clear()
