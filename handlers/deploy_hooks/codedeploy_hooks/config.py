"""Environment configuration, read at each invocation and validated with a clear message.

==========================  ========================================================================
Variable                    Meaning
==========================  ========================================================================
``ECS_CLUSTER``             Cluster name or ARN (required by the ECS hooks).
``ECS_SERVICE``             Service name or ARN (required by the ECS hooks).
``APP_NAME``                Added to every log line when set.
``ENVIRONMENT``             Added to every log line when set.
``SMOKE_TEST_URLS``         Comma-separated http(s) URLs on the test listener (required by
                            AfterAllowTestTraffic), e.g. ``http://alb:8080/health``.
``PRODUCTION_URLS``         Comma-separated http(s) URLs on the production listener (optional).
``LATENCY_THRESHOLD_MS``    Slowest acceptable smoke response, in ms (default 2000).
``HTTP_TIMEOUT_SECONDS``    Per-request timeout, in seconds (default 10).
``EXPECTED_TASK_COUNT``     Tasks the new task set must run (default: the service's desiredCount).
``ALARM_NAMES``             Comma-separated CloudWatch alarm names checked after production traffic.
``MIGRATION_COMMAND``       ``module:function`` of the migration callable (optional).
==========================  ========================================================================

Every reader raises :class:`~codedeploy_hooks.errors.ConfigError`, which the runner reports as Failed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import urlsplit

from codedeploy_hooks.errors import ConfigError

DEFAULT_LATENCY_THRESHOLD_MS = 2000
DEFAULT_HTTP_TIMEOUT_SECONDS = 10.0


def optional_str(name: str) -> str | None:
    """The stripped value of ``name``, or None when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or None


def required_str(name: str) -> str:
    value = optional_str(name)
    if value is None:
        raise ConfigError(f"environment variable {name} is required but not set")
    return value


def csv_list(name: str, *, required: bool) -> list[str]:
    """Comma-separated items of ``name``, blanks dropped; ConfigError when required and empty."""
    items = [item.strip() for item in (optional_str(name) or "").split(",") if item.strip()]
    if required and not items:
        raise ConfigError(f"environment variable {name} is required but not set")
    return items


def url_list(name: str, *, required: bool) -> list[str]:
    """Like :func:`csv_list`, and every item must be an absolute http(s) URL."""
    urls = csv_list(name, required=required)
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"{name} entry {url!r} is not an absolute http(s) URL")
    return urls


def positive_int(name: str, default: int | None) -> int | None:
    """``name`` as an integer >= 1, or ``default`` when unset."""
    raw = optional_str(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, got {value}")
    return value


def positive_float(name: str, default: float) -> float:
    """``name`` as a number > 0, or ``default`` when unset."""
    raw = optional_str(name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"{name} must be greater than 0, got {raw}")
    return value


@dataclass(frozen=True)
class EcsTarget:
    """The ECS service being deployed."""

    cluster: str
    service: str

    @classmethod
    def from_env(cls) -> EcsTarget:
        return cls(cluster=required_str("ECS_CLUSTER"), service=required_str("ECS_SERVICE"))


@dataclass(frozen=True)
class SmokeSettings:
    """How strict the HTTP smoke checks are."""

    latency_threshold_ms: float
    timeout_seconds: float

    @classmethod
    def from_env(cls) -> SmokeSettings:
        return cls(
            latency_threshold_ms=positive_float("LATENCY_THRESHOLD_MS", DEFAULT_LATENCY_THRESHOLD_MS),
            timeout_seconds=positive_float("HTTP_TIMEOUT_SECONDS", DEFAULT_HTTP_TIMEOUT_SECONDS),
        )
