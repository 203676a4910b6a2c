"""The job worker: ``order_pipeline.worker.handler`` (SQS batches from the ``jobs`` queue).

Each message body is ``{"order_id": "..."}``; the order is marked ``processed`` in ``ORDERS_TABLE`` with a
conditional update (the order must exist: the worker never creates one). The answer is a partial batch
response: ``{"batchItemFailures": [{"itemIdentifier": <messageId>}, ...]}`` lists the messages that failed
(not JSON, no ``order_id``, unknown order, DynamoDB refusing); SQS deletes the others and redelivers those,
and after the queue's retries its redrive policy (if any) moves them aside. Marking an order twice is
harmless, so redelivery is safe.

An event that is not an SQS batch at all, or a missing ``ORDERS_TABLE``, fails the whole invocation (logged,
then re-raised) so that every message returns to the queue.
"""

from __future__ import annotations

import json
from typing import Any

from lambdaform_kit.defence import last_line_of_defence, reraise
from lambdaform_kit.logs import bind, get_logger

from order_pipeline import config, store

logger = get_logger(__name__)


class BadMessage(ValueError):
    """The message body is not a job; the message names what is wrong."""


def order_id_of(body: Any) -> str:
    """The ``order_id`` a job message body carries; BadMessage otherwise."""
    try:
        job = json.loads(body) if isinstance(body, str) else None
    except json.JSONDecodeError as error:
        raise BadMessage(f"the body is not JSON ({error.msg})") from None
    if not isinstance(job, dict):
        raise BadMessage("the body must be a JSON object {\"order_id\": ...}")
    order_id = job.get("order_id")
    if not isinstance(order_id, str) or not order_id.strip():
        raise BadMessage("order_id must be a non-empty string")
    return order_id


def process(table: str, record: dict[str, Any]) -> bool:
    """Mark the order of one SQS record processed; False (logged) when the record failed."""
    try:
        order_id = order_id_of(record.get("body"))
    except BadMessage as error:
        logger.warning("job rejected", extra={"reason": str(error)})
        return False
    with bind(order_id=order_id):
        try:
            store.mark_processed(table, order_id)
        except store.UnknownOrder:
            logger.warning("job rejected", extra={"reason": "no such order"})
            return False
        except Exception:  # DynamoDB refused, throttled, timed out: only this message is retried
            logger.exception("job failed")
            return False
        logger.info("order processed")
        return True


@last_line_of_defence(reraise, logger=logger)
def handler(event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
    """Process one SQS batch; answer the failed messages (partial batch response)."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError("not an SQS event: Records is missing")
    table = config.required(config.ORDERS_TABLE)
    failures = []
    for record in records:
        message_id = record.get("messageId") if isinstance(record, dict) else None
        if not isinstance(message_id, str):
            raise ValueError("an SQS record without messageId")  # cannot be reported alone: retry the batch
        with bind(message_id=message_id):
            if not process(table, record):
                failures.append({"itemIdentifier": message_id})
    logger.info("batch done", extra={"records": len(records), "failed": len(failures)})
    return {"batchItemFailures": failures}
