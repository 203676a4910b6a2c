"""The ``orders`` table (hash key ``id``), through the kit's cached DynamoDB client.

botocore is not imported here: AWS errors are recognised by their code (:func:`error_code`), so the
package imports, and answers bad input, where boto3 is absent (``main.py invoke`` runs the zip without it;
Lambda's runtime provides it).
"""

from __future__ import annotations

from collections import Counter

from lambdaform_kit import clients

from order_pipeline.orders import PROCESSED, RECEIVED, Order, now_iso


class UnknownOrder(LookupError):
    """No order has this id."""


def error_code(error: BaseException) -> str | None:
    """The AWS error code of a botocore ``ClientError`` (``"ConditionalCheckFailedException"``), else None."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code if isinstance(code, str) else None


def _conditional_failure(error: Exception) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


def put(table: str, order: Order) -> None:
    """Write ``order`` (replacing an order with the same id)."""
    clients.client("dynamodb").put_item(TableName=table, Item=order.to_item())


def put_new(table: str, order: Order) -> bool:
    """Write ``order`` unless its id exists already; True when it was written."""
    try:
        clients.client("dynamodb").put_item(TableName=table, Item=order.to_item(),
                                            ConditionExpression="attribute_not_exists(id)")
    except Exception as error:
        if _conditional_failure(error):
            return False
        raise
    return True


def get(table: str, order_id: str) -> Order | None:
    """The order ``order_id`` (strongly consistent read), or None."""
    found = clients.client("dynamodb").get_item(TableName=table, Key={"id": {"S": order_id}}, ConsistentRead=True)
    item = found.get("Item")
    return Order.from_item(item) if item else None


def mark_processed(table: str, order_id: str) -> None:
    """Set the order's status to processed; UnknownOrder when no order has this id (nothing is created)."""
    try:
        clients.client("dynamodb").update_item(
            TableName=table,
            Key={"id": {"S": order_id}},
            UpdateExpression="SET #status = :processed, processed_at = :now",
            ConditionExpression="attribute_exists(id)",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":processed": {"S": PROCESSED}, ":now": {"S": now_iso()}},
        )
    except Exception as error:
        if _conditional_failure(error):
            raise UnknownOrder(order_id) from None
        raise


def count_by_status(table: str) -> dict[str, int]:
    """How many orders have each status (a full scan reading only ``status``), ``received`` always present."""
    counts: Counter[str] = Counter({RECEIVED: 0, PROCESSED: 0})
    paginator = clients.client("dynamodb").get_paginator("scan")
    pages = paginator.paginate(TableName=table, ProjectionExpression="#status",
                               ExpressionAttributeNames={"#status": "status"})
    for page in pages:
        for item in page.get("Items", []):
            counts[item.get("status", {}).get("S", "unknown")] += 1
    return dict(sorted(counts.items()))
