"""An order: what a customer sends, how it is checked, and how it is stored in DynamoDB.

A new order is ``{"customer": str, "items": [{"sku": str, "qty": int > 0, "price": number >= 0}, ...]}``.
Amounts are :class:`~decimal.Decimal` throughout (DynamoDB numbers, exact totals); JSON bodies are parsed
with decimals, never floats. :func:`parse_new_order` raises :class:`InvalidOrder` with a reason that is safe
to show to the caller.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

RECEIVED = "received"
PROCESSED = "processed"

MAX_ITEMS = 100
MAX_CUSTOMER_CHARS = 200
MAX_SKU_CHARS = 100
MAX_QTY = 1_000_000
MAX_PRICE = Decimal(1_000_000_000)
MAX_PRICE_DECIMALS = 6
ORDER_FIELDS = ("customer", "items")
ITEM_FIELDS = ("sku", "qty", "price")


class InvalidOrder(ValueError):
    """The order does not have the documented shape; the message names the field and is safe to return."""


@dataclass(frozen=True)
class Item:
    sku: str
    qty: int
    price: Decimal


@dataclass(frozen=True)
class NewOrder:
    customer: str
    items: tuple[Item, ...]

    @property
    def total(self) -> Decimal:
        return sum((item.price * item.qty for item in self.items), Decimal(0))


@dataclass(frozen=True)
class Order:
    id: str
    customer: str
    items: tuple[Item, ...]
    total: Decimal
    status: str = RECEIVED
    created_at: str = field(default_factory=lambda: now_iso())

    @classmethod
    def create(cls, new: NewOrder, order_id: str | None = None) -> Order:
        """A received order for ``new``, with a fresh uuid4 id unless ``order_id`` is given."""
        return cls(id=order_id or str(uuid.uuid4()), customer=new.customer, items=new.items, total=new.total)

    def to_json(self) -> dict[str, Any]:
        """The order as the API answers it (numbers as JSON numbers)."""
        return {
            "id": self.id,
            "customer": self.customer,
            "items": [{"sku": i.sku, "qty": i.qty, "price": json_number(i.price)} for i in self.items],
            "total": json_number(self.total),
            "status": self.status,
            "created_at": self.created_at,
        }

    def to_item(self) -> dict[str, Any]:
        """The order as a DynamoDB item (attribute-value form)."""
        return {
            "id": {"S": self.id},
            "customer": {"S": self.customer},
            "items": {"L": [{"M": {"sku": {"S": i.sku}, "qty": {"N": str(i.qty)}, "price": {"N": str(i.price)}}}
                            for i in self.items]},
            "total": {"N": str(self.total)},
            "status": {"S": self.status},
            "created_at": {"S": self.created_at},
        }

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Order:
        """The order stored as ``item`` (attribute-value form, as ``get_item`` returns it)."""
        items = tuple(
            Item(sku=m["M"]["sku"]["S"], qty=int(m["M"]["qty"]["N"]), price=Decimal(m["M"]["price"]["N"]))
            for m in item.get("items", {}).get("L", [])
        )
        return cls(id=item["id"]["S"], customer=item["customer"]["S"], items=items,
                   total=Decimal(item["total"]["N"]), status=item["status"]["S"],
                   created_at=item.get("created_at", {}).get("S", ""))


def now_iso() -> str:
    """The current UTC time, ISO-8601 with seconds: ``2024-03-12T19:03:58Z``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def json_number(value: Decimal) -> int | float:
    """A decimal as a JSON number: an int when it is whole, else a float."""
    return int(value) if value == value.to_integral_value() else float(value)


def _text(value: Any, where: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidOrder(f"{where} must be a non-empty string")
    if len(value) > limit:
        raise InvalidOrder(f"{where} is longer than {limit} characters")
    return value.strip()


def _qty(value: Any, where: str) -> int:
    reason = f"{where} must be a whole number from 1 to {MAX_QTY}"
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise InvalidOrder(reason)
    if isinstance(value, Decimal) and (not value.is_finite() or value != value.to_integral_value()):
        raise InvalidOrder(reason)
    if not 0 < value <= MAX_QTY:
        raise InvalidOrder(reason)
    return int(value)


def _price(value: Any, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise InvalidOrder(f"{where} must be a number >= 0")
    price = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if not price.is_finite() or not 0 <= price <= MAX_PRICE:
        raise InvalidOrder(f"{where} must be a number from 0 to {MAX_PRICE}")
    if -price.as_tuple().exponent > MAX_PRICE_DECIMALS:
        raise InvalidOrder(f"{where} has more than {MAX_PRICE_DECIMALS} decimal places")
    return price


def _only(payload: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(payload) - set(allowed))
    if unknown:
        prefix = f"{where}." if where else ""
        raise InvalidOrder(f"unknown field {prefix}{unknown[0]} (allowed: {', '.join(allowed)})")


def parse_item(value: Any, where: str) -> Item:
    """One ``{"sku", "qty", "price"}`` entry; ``where`` names it in reasons (``items[2]``)."""
    if not isinstance(value, Mapping):
        raise InvalidOrder(f"{where} must be an object with sku, qty and price")
    _only(value, ITEM_FIELDS, where)
    missing = [name for name in ITEM_FIELDS if name not in value]
    if missing:
        raise InvalidOrder(f"{where} is missing {', '.join(missing)}")
    return Item(sku=_text(value["sku"], f"{where}.sku", MAX_SKU_CHARS), qty=_qty(value["qty"], f"{where}.qty"),
                price=_price(value["price"], f"{where}.price"))


def parse_new_order(payload: Any) -> NewOrder:
    """The new order ``payload`` describes, or InvalidOrder naming the first field that is wrong."""
    if not isinstance(payload, Mapping):
        raise InvalidOrder("the body must be a JSON object with customer and items")
    _only(payload, ORDER_FIELDS, "")
    customer = _text(payload.get("customer"), "customer", MAX_CUSTOMER_CHARS)
    items = payload.get("items")
    if not isinstance(items, list) or not items:
        raise InvalidOrder("items must be a non-empty list")
    if len(items) > MAX_ITEMS:
        raise InvalidOrder(f"items has {len(items)} entries, at most {MAX_ITEMS} are allowed")
    return NewOrder(customer=customer, items=tuple(parse_item(v, f"items[{i}]") for i, v in enumerate(items)))
