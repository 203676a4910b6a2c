"""Encodes a domain name with idna (from this function's requirements.txt) and says which six (from the
`shared` layer) it runs with: both are importable only because lambdaform packaged them."""

from __future__ import annotations

from typing import Any

import idna
import six


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    domain = event.get("domain", "bücher.example") if isinstance(event, dict) else None
    if not isinstance(domain, str) or not domain:
        return {"statusCode": 400, "body": "domain must be a non-empty string"}
    try:
        encoded = idna.encode(domain).decode("ascii")
    except idna.IDNAError as exc:
        return {"statusCode": 400, "body": f"not a valid domain: {exc}"}
    return {"statusCode": 200, "body": encoded, "six": six.__version__}
