"""Validated order data, as the importer and the demo shop hand it to `OrderRepo.upsert`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    phone: str  # E.164
    name: str
    language: str = "zh"


@dataclass(frozen=True, slots=True)
class ItemRecord:
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
class OrderRecord:
    order_no: str
    customer: CustomerRecord
    status: str
    placed_at: datetime
    payment_method: str
    currency: str
    shipping_fee: Decimal
    items: tuple[ItemRecord, ...]
    freight_insurance: Decimal | None = None  # 运费险: return shipping covered up to this
    paid_at: datetime | None = None
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
