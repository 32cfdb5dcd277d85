"""Small factories for tests: a customer with orders and items in one call."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, Customer, Order, OrderItem

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
_seq = itertools.count(1)


async def make_customer(
    session: AsyncSession,
    *,
    phone: str | None = None,
    name: str = "王小明",
    language: str = "zh",
    telegram_user_id: int | None = None,
) -> Customer:
    n = next(_seq)
    customer = Customer(
        phone=phone if phone is not None else f"+86139{n:08d}",
        name=name,
        language=language,
        telegram_user_id=telegram_user_id,
        created_at=NOW,
    )
    session.add(customer)
    await session.flush()
    return customer


async def make_order(
    session: AsyncSession,
    customer: Customer,
    *,
    order_no: str | None = None,
    status: str = "delivered",
    delivered_days_ago: float | None = 3,
    placed_at: datetime | None = None,
    payment_method: str = "online",
    items: Sequence[dict[str, Any]] | None = None,
    now: datetime = NOW,
) -> Order:
    """An order; `items` entries may set sku, name, category, quantity, unit_price."""
    n = next(_seq)
    delivered_at = (
        now - timedelta(days=delivered_days_ago) if delivered_days_ago is not None else None
    )
    placed = placed_at or (delivered_at or now) - timedelta(days=3)
    order = Order(
        order_no=order_no or f"DD20261120{n:05d}",
        customer_id=customer.id,
        status=status,
        placed_at=placed,
        paid_at=placed + timedelta(minutes=1) if status != "pending" else None,
        shipped_at=placed + timedelta(days=1) if delivered_at else None,
        delivered_at=delivered_at,
        payment_method=payment_method,
        currency="CNY",
        shipping_fee=Decimal("10.00"),
        created_at=now,
        updated_at=now,
        items=[],
    )
    for i, spec in enumerate(items or [{}]):
        order.items.append(
            OrderItem(
                sku=spec.get("sku", f"SKU-{n}-{i}"),
                name=spec.get("name", "Phone X"),
                category=spec.get("category", "electronics"),
                quantity=spec.get("quantity", 1),
                unit_price=Decimal(spec.get("unit_price", "3999.00")),
            )
        )
    session.add(order)
    await session.flush()
    return order


async def make_case(
    session: AsyncSession,
    order: Order,
    *,
    case_no: str | None = None,
    status: str = "submitted",
    created_at: datetime = NOW,
    **fields: Any,
) -> Case:
    n = next(_seq)
    item = order.items[0]
    case = Case(
        case_no=case_no or f"AS-20261126-{n:04d}",
        order_id=order.id,
        item_id=item.id,
        customer_id=order.customer_id,
        quantity=1,
        service=fields.pop("service", "return"),
        reason=fields.pop("reason", "no_reason"),
        status=status,
        outcome=fields.pop("outcome", "approve"),
        created_at=created_at,
        updated_at=created_at,
        **fields,
    )
    session.add(case)
    await session.flush()
    return case
