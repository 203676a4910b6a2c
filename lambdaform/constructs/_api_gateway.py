"""Helpers the API Gateway constructs share (WebSocket and HTTP APIs): the access log line."""

from __future__ import annotations

import json
from collections.abc import Mapping


def access_log_format(fields: Mapping[str, str]) -> str:
    """A stage's access log line: compact JSON of ``name -> $context variable``, one object per request."""
    return json.dumps(dict(fields), separators=(",", ":"))
