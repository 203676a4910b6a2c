"""The nightly report: ``order_pipeline.nightly.handler`` (an EventBridge Scheduler schedule).

The schedule's input is ``{"task": "nightly-report"}`` (examples/order-pipeline.yaml); an EventBridge
scheduled event (``source`` ``aws.scheduler`` or ``aws.events``) is accepted too. The handler counts the
orders in ``ORDERS_TABLE`` by status and publishes the summary to ``ALERTS_TOPIC_ARN``:

* subject ``Nightly order report``;
* message ``{"task": "nightly-report", "total": n, "counts": {"processed": n, "received": n, ...}}``;
* message attribute ``kind`` = ``order`` (the alerts function subscribes with ``filter_policy: {kind: [order]}``).

It answers the summary. Any other event is answered ``{"statusCode": 400, "error": ...}`` without publishing.
A DynamoDB or SNS failure is logged and re-raised, so the scheduler's retry policy applies.
"""

from __future__ import annotations

import json
from typing import Any

from lambdaform_kit import clients
from lambdaform_kit.defence import last_line_of_defence, reraise
from lambdaform_kit.logs import get_logger

from order_pipeline import config, store

logger = get_logger(__name__)

TASK = "nightly-report"
SCHEDULED_SOURCES = ("aws.scheduler", "aws.events")
SUBJECT = "Nightly order report"


def is_nightly(event: Any) -> bool:
    """Whether ``event`` asks for the nightly report (the schedule's input, or a scheduled event)."""
    if not isinstance(event, dict):
        return False
    return event.get("task") == TASK or event.get("source") in SCHEDULED_SOURCES


def report(counts: dict[str, int]) -> dict[str, Any]:
    return {"task": TASK, "total": sum(counts.values()), "counts": counts}


@last_line_of_defence(reraise, logger=logger)
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Count orders by status and publish the report to the alerts topic."""
    if not is_nightly(event):
        logger.warning("event ignored: not the nightly schedule")
        return {"statusCode": 400, "error": f'expected {{"task": "{TASK}"}} or a scheduled event'}
    table, topic_arn = config.required(config.ORDERS_TABLE), config.required(config.ALERTS_TOPIC_ARN)
    summary = report(store.count_by_status(table))
    published = clients.client("sns").publish(
        TopicArn=topic_arn,
        Subject=SUBJECT,
        Message=json.dumps(summary, separators=(",", ":")),
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )
    logger.info("report published", extra={"total": summary["total"], "counts": summary["counts"],
                                             "sns_message_id": published.get("MessageId")})
    return summary
