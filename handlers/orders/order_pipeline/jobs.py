"""The ``jobs`` queue: one message ``{"order_id": ...}`` per order the worker should process."""

from __future__ import annotations

import json
from collections.abc import Iterable

from lambdaform_kit import clients

BATCH = 10
"""SQS takes at most 10 messages per SendMessageBatch."""


class EnqueueFailed(RuntimeError):
    """SQS refused some of the messages (their order ids are in the message)."""


def message(order_id: str) -> str:
    return json.dumps({"order_id": order_id}, separators=(",", ":"))


def enqueue(queue_url: str, order_ids: Iterable[str]) -> int:
    """Send one job per order id, 10 per request; EnqueueFailed when SQS refuses any. Returns the count."""
    ids = list(order_ids)
    sqs = clients.client("sqs")
    for start in range(0, len(ids), BATCH):
        chunk = ids[start:start + BATCH]
        answer = sqs.send_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(n), "MessageBody": message(order_id)} for n, order_id in enumerate(chunk)])
        failed = [chunk[int(entry["Id"])] for entry in answer.get("Failed", [])]
        if failed:
            raise EnqueueFailed(f"SQS refused the jobs of {', '.join(failed)}")
    return len(ids)
