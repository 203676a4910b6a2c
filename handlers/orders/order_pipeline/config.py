"""The environment the functions read (set by the service file from its references)."""

from __future__ import annotations

import os

ORDERS_TABLE = "ORDERS_TABLE"
"""``${tables.orders.name}``: every function that reads or writes orders."""
JOBS_QUEUE_URL = "JOBS_QUEUE_URL"
"""``${queues.jobs.url}``: api and uploads send one job per new order."""
ALERTS_TOPIC_ARN = "ALERTS_TOPIC_ARN"
"""``${topics.alerts.arn}``: nightly publishes its report there."""


class ConfigurationError(RuntimeError):
    """A required environment variable is missing: the function is deployed without its configuration."""


def required(name: str) -> str:
    """The value of environment variable ``name``; ConfigurationError when it is unset or empty."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value
