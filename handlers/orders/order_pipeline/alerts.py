"""Alerts: ``order_pipeline.alerts.handler`` (messages of the ``alerts`` topic, through an SNS subscription).

One structured log line per SNS record, message ``alert``, with ``subject``, ``alert`` (the message text),
``attributes`` (message attribute name -> value) and ``sns_message_id``. A record that is not an SNS
notification is logged as a warning and counted. The answer is ``{"alerts": n, "rejected": n}`` (SNS invokes
asynchronously and ignores it; it is there for tests and ``main.py invoke``).
"""

from __future__ import annotations

from typing import Any

from lambdaform_kit.defence import last_line_of_defence, reraise
from lambdaform_kit.logs import get_logger

logger = get_logger(__name__)


def attributes(notification: dict[str, Any]) -> dict[str, Any]:
    """Message attributes as name -> value (``{"kind": {"Type": "String", "Value": "order"}}`` -> ``kind: order``)."""
    found = notification.get("MessageAttributes") or {}
    if not isinstance(found, dict):
        return {}
    return {name: attr.get("Value") if isinstance(attr, dict) else attr for name, attr in found.items()}


@last_line_of_defence(reraise, logger=logger)
def handler(event: Any, context: Any) -> dict[str, int]:
    """Log every alert of the event."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        logger.warning("event ignored: not an SNS event")
        return {"alerts": 0, "rejected": 0}
    logged = rejected = 0
    for record in records:
        notification = record.get("Sns") if isinstance(record, dict) else None
        if not isinstance(notification, dict) or not isinstance(notification.get("Message"), str):
            logger.warning("record ignored: not an SNS notification")
            rejected += 1
            continue
        logger.info("alert", extra={
            "subject": notification.get("Subject"),
            "alert": notification["Message"],
            "attributes": attributes(notification),
            "sns_message_id": notification.get("MessageId"),
        })
        logged += 1
    return {"alerts": logged, "rejected": rejected}
