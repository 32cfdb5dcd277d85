"""Check one order record in the import format and turn it into an `OrderRecord`.

Every problem is collected (not just the first) so the shop can fix a file in one pass.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from storage.models import CATEGORIES, LANGUAGES, ORDER_STATUSES, PAYMENT_METHODS
from storage.phones import to_e164
from storage.records import CustomerRecord, ItemRecord, OrderRecord

MONEY_RE = re.compile(r"^\d{1,10}(\.\d{1,2})?$")
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True, slots=True)
class FieldProblem:
    field: str
    message: str


class _Checker:
    def __init__(self) -> None:
        self.problems: list[FieldProblem] = []

    def fail(self, field: str, message: str) -> None:
        self.problems.append(FieldProblem(field, message))

    def text(self, data: dict[str, Any], key: str, field: str, max_len: int) -> str:
        value = data.get(key)
        if value is None:
            self.fail(field, "required")
        elif not isinstance(value, str):
            self.fail(field, "must be a string")
        elif not value.strip():
            self.fail(field, "must not be empty")
        elif len(value) > max_len:
            self.fail(field, f"longer than {max_len} characters")
        else:
            return value.strip()
        return ""

    def choice(
        self, data: dict[str, Any], key: str, field: str, allowed: tuple[str, ...], default: str
    ) -> str:
        value = data.get(key, default)
        if value is None and default:
            return default
        if value not in allowed:
            self.fail(field, f"must be one of {', '.join(allowed)} (got {value!r})")
            return default
        return str(value)

    def when(self, data: dict[str, Any], key: str, *, required: bool = False) -> datetime | None:
        value = data.get(key)
        if value is None:
            if required:
                self.fail(key, "required")
            return None
        if not isinstance(value, str):
            self.fail(key, "must be an ISO 8601 string with a UTC offset")
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.fail(key, f"not an ISO 8601 time: {value!r}")
            return None
        if parsed.tzinfo is None or parsed.utcoffset() is None:
            self.fail(key, f"needs a UTC offset such as +08:00: {value!r}")
            return None
        return parsed

    def money(self, value: Any, field: str, default: str | None = None) -> Decimal:
        if value is None and default is not None:
            return Decimal(default)
        if value is None:
            self.fail(field, "required")
        elif not isinstance(value, str):
            self.fail(field, 'must be a decimal string such as "10.00"')
        elif value.strip().startswith("-"):
            self.fail(field, f"must not be negative: {value!r}")
        elif not MONEY_RE.match(value.strip()):
            self.fail(field, f"not an amount with at most 2 decimals: {value!r}")
        else:
            return Decimal(value.strip()).quantize(Decimal("0.01"))
        return Decimal("0.00")

    def phone(self, value: Any, field: str) -> str:
        if value is None:
            self.fail(field, "required")
            return ""
        if not isinstance(value, str):
            self.fail(field, "must be a string")
            return ""
        e164 = to_e164(value)
        if e164 is None:
            self.fail(field, f"not a valid phone number: {value!r}")
            return ""
        return e164


def validate_order(data: Any) -> OrderRecord | list[FieldProblem]:
    if not isinstance(data, dict):
        return [FieldProblem("record", "must be a JSON object")]
    check = _Checker()
    order_no = check.text(data, "order_no", "order_no", 64)
    if order_no and re.search(r"\s", order_no):
        check.fail("order_no", "must not contain spaces")
    customer = _customer(check, data.get("customer"))
    status = check.choice(data, "status", "status", ORDER_STATUSES, "")
    payment = check.choice(data, "payment_method", "payment_method", PAYMENT_METHODS, "online")
    currency = data.get("currency", "CNY")
    if not isinstance(currency, str) or not CURRENCY_RE.match(currency):
        check.fail("currency", f"must be a 3-letter upper-case code such as CNY (got {currency!r})")
    shipping_fee = check.money(data.get("shipping_fee"), "shipping_fee", default="0.00")
    insured = data.get("freight_insurance")  # 运费险, optional
    insurance = check.money(insured, "freight_insurance") if insured is not None else None
    times = {key: check.when(data, key, required=key == "placed_at") for key in _TIME_KEYS}
    items = _items(check, data.get("items"))
    _check_story(check, status, payment, times)
    if check.problems or customer is None or times["placed_at"] is None:
        return check.problems
    return OrderRecord(
        order_no=order_no,
        customer=customer,
        status=status,
        placed_at=times["placed_at"],
        paid_at=times["paid_at"],
        shipped_at=times["shipped_at"],
        delivered_at=times["delivered_at"],
        payment_method=payment,
        currency=str(currency),
        shipping_fee=shipping_fee,
        freight_insurance=insurance,
        items=tuple(items),
    )


_TIME_KEYS = ("placed_at", "paid_at", "shipped_at", "delivered_at")


def _customer(check: _Checker, data: Any) -> CustomerRecord | None:
    if not isinstance(data, dict):
        check.fail("customer", "required (an object with phone, name, language)")
        return None
    phone = check.phone(data.get("phone"), "customer.phone")
    name = check.text(data, "name", "customer.name", 200)
    language = check.choice(data, "language", "customer.language", LANGUAGES, "zh")
    return CustomerRecord(phone=phone, name=name, language=language)


def _items(check: _Checker, data: Any) -> list[ItemRecord]:
    if not isinstance(data, list) or not data:
        check.fail("items", "required: a non-empty list")
        return []
    items: list[ItemRecord] = []
    seen: set[str] = set()
    for i, raw in enumerate(data):
        where = f"items[{i}]"
        if not isinstance(raw, dict):
            check.fail(where, "must be an object")
            continue
        sku = check.text(raw, "sku", f"{where}.sku", 64)
        if sku and sku in seen:
            check.fail(f"{where}.sku", f"duplicate sku {sku!r} in this order")
        seen.add(sku)
        name = check.text(raw, "name", f"{where}.name", 300)
        category = check.choice(raw, "category", f"{where}.category", CATEGORIES, "")
        quantity = raw.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            check.fail(f"{where}.quantity", f"must be a positive integer (got {quantity!r})")
            quantity = 1
        price = check.money(raw.get("unit_price"), f"{where}.unit_price")
        items.append(ItemRecord(sku, name, category, quantity, price))
    return items


_REQUIRED = {"paid": ("paid_at",), "shipped": ("shipped_at",), "delivered": ("delivered_at",)}
_TOO_EARLY = {
    "pending": ("shipped_at", "delivered_at"),
    "paid": ("shipped_at", "delivered_at"),
    "shipped": ("delivered_at",),
}


def _check_story(
    check: _Checker, status: str, payment: str, times: dict[str, datetime | None]
) -> None:
    """The times must tell a possible story and agree with the status."""
    # Cash on delivery is paid at the door, so paid_at may come after shipped_at.
    chain = _TIME_KEYS if payment == "online" else ("placed_at", "shipped_at", "delivered_at")
    present = [key for key in chain if times[key] is not None]
    if payment == "cod" and times["paid_at"] is not None:
        _check_order(check, times, ["placed_at", "paid_at"])
    _check_order(check, times, present)
    required = list(_REQUIRED.get(status, ()))
    if payment == "online" and status in ("shipped", "delivered"):
        required.insert(0, "paid_at")
    for key in required:
        if times[key] is None:
            check.fail(key, f"required when status is {status}")
    too_early = list(_TOO_EARLY.get(status, ()))
    if payment == "online" and status == "pending":
        too_early.insert(0, "paid_at")
    for key in too_early:
        if times[key] is not None:
            check.fail(key, f"must be empty while status is {status}")


def _check_order(check: _Checker, times: dict[str, datetime | None], keys: list[str]) -> None:
    for earlier, later in itertools.pairwise(keys):
        before, after = times[earlier], times[later]
        if before is not None and after is not None and after < before:
            check.fail(later, f"must not be before {earlier}")
