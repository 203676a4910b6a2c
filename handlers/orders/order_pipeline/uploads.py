"""CSV uploads: ``order_pipeline.uploads.handler`` (S3 ``ObjectCreated`` notifications for ``incoming/*.csv``).

For each ``aws:s3`` record the object (bucket and URL-decoded key from the event) is read as UTF-8 CSV; each
row ``customer,sku,qty,price`` becomes an order of one item, status ``received``, written to ``ORDERS_TABLE``
and sent as a job to ``JOBS_QUEUE_URL``, exactly as ``POST /orders`` does. A first row that names the
columns (``customer,sku,qty,price``) is a header and is skipped; blank lines are skipped.

A row that is not an order (wrong number of cells, a qty that is not a whole number > 0, a negative price,
...) is logged with its line number and reason and left out; the rest of the file still counts. An object
that is gone or is not UTF-8 is logged and skipped. The answer is a summary,
``{"files": n, "created": n, "rejected": [{"key", "line", "reason"}, ...]}``.

Order ids are derived from the object (bucket, key, version or ETag) and the line number (uuid5), and written
only if absent, so a retried invocation (S3 invokes asynchronously; Lambda retries an error twice) creates
no duplicates; a job is sent again for an order that is still ``received``. Any other failure (DynamoDB or
SQS refusing) is logged and re-raised for that retry.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote_plus

from lambdaform_kit import clients
from lambdaform_kit.defence import last_line_of_defence, reraise
from lambdaform_kit.logs import bind, get_logger

from order_pipeline import config, jobs, store
from order_pipeline.orders import RECEIVED, InvalidOrder, NewOrder, Order, parse_item

logger = get_logger(__name__)

COLUMNS = ("customer", "sku", "qty", "price")
MISSING_OBJECT = {"NoSuchKey", "404", "NoSuchBucket"}


@dataclass(frozen=True)
class S3Object:
    bucket: str
    key: str
    version: str
    """versionId when the bucket is versioned, else the ETag: what makes the order ids of this upload."""


@dataclass
class Summary:
    files: int = 0
    created: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"files": self.files, "created": self.created, "rejected": self.rejected}


class RowError(ValueError):
    """A CSV row that is not an order; the message says why."""


def s3_objects(event: Any) -> list[S3Object]:
    """The objects an S3 notification event names (records of other sources are ignored)."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list):
        raise ValueError("not an S3 event: Records is missing")
    found = []
    for record in records:
        if not isinstance(record, dict) or record.get("eventSource") != "aws:s3":
            logger.warning("record ignored: not from aws:s3")
            continue
        s3 = record.get("s3") or {}
        bucket, obj = (s3.get("bucket") or {}).get("name"), s3.get("object") or {}
        if not isinstance(bucket, str) or not isinstance(obj.get("key"), str):
            logger.warning("record ignored: no bucket name or object key")
            continue
        found.append(S3Object(bucket, unquote_plus(obj["key"]), str(obj.get("versionId") or obj.get("eTag") or "")))
    return found


def _cell_number(text: str, what: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise RowError(f"{what} '{text}' is not a number") from None


def parse_row(cells: list[str]) -> NewOrder:
    """The one-item order a CSV row describes; RowError with the reason otherwise."""
    if len(cells) != len(COLUMNS):
        raise RowError(f"expected {len(COLUMNS)} cells ({','.join(COLUMNS)}), got {len(cells)}")
    customer, sku, qty, price = (cell.strip() for cell in cells)
    if not customer:
        raise RowError("customer is empty")
    try:
        item = parse_item({"sku": sku, "qty": _cell_number(qty, "qty"), "price": _cell_number(price, "price")}, "row")
    except InvalidOrder as error:
        raise RowError(str(error).removeprefix("row.")) from None
    return NewOrder(customer=customer, items=(item,))


def rows(text: str) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every non-blank data row; a header row naming the columns is left out."""
    found = [(number, cells) for number, cells in enumerate(csv.reader(io.StringIO(text)), start=1)
             if any(cell.strip() for cell in cells)]
    if found and [cell.strip().lower() for cell in found[0][1]] == list(COLUMNS):
        found = found[1:]
    return found


def order_id(obj: S3Object, line: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"s3://{obj.bucket}/{obj.key}?version={obj.version}#line={line}"))


def read_text(obj: S3Object) -> str | None:
    """The object's text, or None (logged) when it is gone or not UTF-8."""
    try:
        body = clients.client("s3").get_object(Bucket=obj.bucket, Key=obj.key)["Body"].read()
    except Exception as error:
        if store.error_code(error) in MISSING_OBJECT:
            logger.warning("upload skipped: the object is gone")
            return None
        raise
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        logger.warning("upload skipped: the object is not UTF-8 text")
        return None


def import_object(obj: S3Object, table: str, queue_url: str, summary: Summary) -> None:
    text = read_text(obj)
    if text is None:
        return
    summary.files += 1
    to_enqueue = []
    for line, cells in rows(text):
        try:
            new = parse_row(cells)
        except RowError as error:
            logger.warning("row rejected", extra={"line": line, "reason": str(error)})
            summary.rejected.append({"key": obj.key, "line": line, "reason": str(error)})
            continue
        order = Order.create(new, order_id=order_id(obj, line))
        if store.put_new(table, order):
            summary.created += 1
            to_enqueue.append(order.id)
        else:  # written by an earlier attempt: send its job again only if it was never processed
            existing = store.get(table, order.id)
            if existing is not None and existing.status == RECEIVED:
                to_enqueue.append(order.id)
    jobs.enqueue(queue_url, to_enqueue)
    logger.info("upload imported", extra={"jobs": len(to_enqueue)})


@last_line_of_defence(reraise, logger=logger)
def handler(event: Any, context: Any) -> dict[str, Any]:
    """Turn every CSV object the S3 event names into orders; answer the summary."""
    objects = s3_objects(event)
    table, queue_url = config.required(config.ORDERS_TABLE), config.required(config.JOBS_QUEUE_URL)
    summary = Summary()
    for obj in objects:
        with bind(bucket=obj.bucket, key=obj.key):
            import_object(obj, table, queue_url, summary)
    return summary.to_json()
