"""The audit trail: ``order_pipeline.audit.handler`` (the ``orders`` table's stream, NEW_AND_OLD_IMAGES).

One structured log line per change, message ``order changed``, with ``order_id``, ``change`` (``INSERT``,
``MODIFY`` or ``REMOVE``), ``old_status`` and ``new_status`` (null where there is no such image), e.g.
``received -> processed``. A record without the order's key or a known event name is logged as an error and
reported in ``{"batchItemFailures": [{"itemIdentifier": <dynamodb.SequenceNumber>}]}`` (partial batch
response: Lambda retries from the first failed record, within the mapping's retry limit); the others succeed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdaform_kit.defence import last_line_of_defence, reraise
from lambdaform_kit.logs import get_logger

logger = get_logger(__name__)

CHANGES = ("INSERT", "MODIFY", "REMOVE")


class BadRecord(ValueError):
    """A stream record without what the audit line needs; the message says what is missing."""


@dataclass(frozen=True)
class Change:
    order_id: str
    change: str
    old_status: str | None
    new_status: str | None


def _status(image: Any) -> str | None:
    if not isinstance(image, dict):
        return None
    value = image.get("status")
    return value.get("S") if isinstance(value, dict) else None


def change_of(record: Any) -> Change:
    """The order change one stream record describes; BadRecord otherwise."""
    if not isinstance(record, dict):
        raise BadRecord("the record is not an object")
    change = record.get("eventName")
    if change not in CHANGES:
        raise BadRecord(f"eventName {change!r} is not one of {', '.join(CHANGES)}")
    data = record.get("dynamodb")
    if not isinstance(data, dict):
        raise BadRecord("the record has no dynamodb section")
    key = (data.get("Keys") or {}).get("id")
    order_id = key.get("S") if isinstance(key, dict) else None
    if not isinstance(order_id, str):
        raise BadRecord("the record has no Keys.id")
    return Change(order_id, change, _status(data.get("OldImage")), _status(data.get("NewImage")))


def sequence_number(record: Any) -> str:
    """The record's ``dynamodb.SequenceNumber``; "" when absent (Lambda then retries the whole batch)."""
    data = record.get("dynamodb") if isinstance(record, dict) else None
    number = data.get("SequenceNumber") if isinstance(data, dict) else None
    return number if isinstance(number, str) else ""


@last_line_of_defence(reraise, logger=logger)
def handler(event: Any, context: Any) -> dict[str, list[dict[str, str]]]:
    """Log every order change of the batch; answer the records that could not be read."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError("not a DynamoDB stream event: Records is missing")
    failures = []
    for record in records:
        try:
            change = change_of(record)
        except BadRecord as error:
            number = sequence_number(record)
            logger.error("stream record rejected", extra={"reason": str(error), "sequence_number": number})
            failures.append({"itemIdentifier": number})
            continue
        logger.info("order changed", extra={
            "order_id": change.order_id, "change": change.change, "old_status": change.old_status,
            "new_status": change.new_status,
            "transition": f"{change.old_status or '-'} -> {change.new_status or '-'}",
        })
    return {"batchItemFailures": failures}
