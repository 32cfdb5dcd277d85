"""Orders and their items."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import joinedload, selectinload

from storage.models import Case, Order, OrderItem
from storage.records import OrderRecord
from storage.repos.base import Repo

_orders, _items = Order.__table__, OrderItem.__table__
ORDER_FIELDS = ("id", "order_no", "customer_id", "status", "placed_at", "paid_at", "shipped_at",
                "delivered_at", "payment_method", "currency")  # fmt: skip
ITEM_FIELDS = ("sku", "name", "category", "quantity", "unit_price")
# Built once (its cache key too) and free of ORM bookkeeping: this runs on most turns.
_ORDER_ROWS = (
    select(
        *(_orders.c[name] for name in ORDER_FIELDS),
        _items.c.id.label("item_id"),
        *(_items.c[name] for name in ITEM_FIELDS),
    )
    .select_from(_orders.outerjoin(_items, _items.c.order_id == _orders.c.id))
    .order_by(_orders.c.id, _items.c.id)
)
_ONE = _orders.c.id == bindparam("order_id")
_WITH_ITEMS = _ORDER_ROWS.where(_ONE)
_cases = Case.__table__
_PRIOR_CLAIMS = (
    select(func.count())
    .select_from(_cases)
    .where(
        _cases.c.customer_id == _orders.c.customer_id,
        _cases.c.created_at >= bindparam("since", type_=_cases.c.created_at.type),
    )
    .scalar_subquery()
)
# The same, with how many cases the order's customer opened since `since` (a policy fact that
# is wanted on the same turns): one statement for both. And for several orders at once.
_WITH_CLAIMS = _ORDER_ROWS.add_columns(_PRIOR_CLAIMS.label("claims_since"))
_WITH_ITEMS_AND_CLAIMS = _WITH_CLAIMS.where(_ONE)
_SEVERAL_WITH_CLAIMS = _WITH_CLAIMS.where(_orders.c.id.in_(bindparam("order_ids", expanding=True)))

_CUSTOMER = bindparam("customer_id")
_PAGE = (
    select(_orders)
    .where(_orders.c.customer_id == _CUSTOMER)
    .order_by(_orders.c.placed_at.desc(), _orders.c.id.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
    .subquery()
)
_TOTAL = select(func.count()).select_from(_orders).where(_orders.c.customer_id == _CUSTOMER)
# A page of a customer's orders, newest first, with their items and the customer's total.
_PAGE_WITH_ITEMS = (
    select(
        *(_PAGE.c[name] for name in ORDER_FIELDS),
        _items.c.id.label("item_id"),
        *(_items.c[name] for name in ITEM_FIELDS),
        _TOTAL.scalar_subquery().label("total"),
    )
    .select_from(_PAGE.outerjoin(_items, _items.c.order_id == _PAGE.c.id))
    .order_by(_PAGE.c.placed_at.desc(), _PAGE.c.id.desc(), _items.c.id)
)


class OrderRepo(Repo):
    async def by_no(self, order_no: str) -> Order | None:
        return await self.session.scalar(
            select(Order).where(Order.order_no == order_no).options(selectinload(Order.items))
        )

    async def rows_with_items(
        self, order_id: int, claims_since: datetime | None = None
    ) -> Sequence[Row[Any]]:
        """The order as plain rows, one per item (item columns None when it has none):
        `ORDER_FIELDS`, `item_id`, `ITEM_FIELDS`, and with `claims_since` a `claims_since`
        column: the customer's cases opened since then. [] if there is no such order."""
        if claims_since is None:
            return (await self.session.execute(_WITH_ITEMS, {"order_id": order_id})).all()
        params = {"order_id": order_id, "since": claims_since}
        return (await self.session.execute(_WITH_ITEMS_AND_CLAIMS, params)).all()

    async def rows_with_claims_of(
        self, order_ids: Collection[int], claims_since: datetime
    ) -> Sequence[Row[Any]]:
        """`rows_with_items(order_id, claims_since)` of several orders, by order id."""
        params = {"order_ids": sorted(order_ids), "since": claims_since}
        return (await self.session.execute(_SEVERAL_WITH_CLAIMS, params)).all()

    async def list_for_customer(
        self, customer_id: int, offset: int = 0, limit: int = 10
    ) -> Sequence[Order]:
        rows = await self.session.scalars(
            select(Order)
            .where(Order.customer_id == customer_id)
            .order_by(Order.placed_at.desc(), Order.id.desc())
            .offset(offset)
            .limit(limit)
            .options(selectinload(Order.items))
        )
        return rows.all()

    async def page_rows(self, customer_id: int, offset: int, limit: int) -> Sequence[Row[Any]]:
        """A page of the customer's orders, newest first, as rows like `rows_with_items`
        (one per item) plus `total`, the customer's number of orders. [] past the last page."""
        params = {"customer_id": customer_id, "offset": offset, "limit": limit}
        return (await self.session.execute(_PAGE_WITH_ITEMS, params)).all()

    async def count_for_customer(self, customer_id: int) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(Order).where(Order.customer_id == customer_id)
        )
        return count or 0

    async def item(self, item_id: int) -> OrderItem | None:
        return await self.session.get(OrderItem, item_id, options=[joinedload(OrderItem.order)])

    async def upsert(
        self, record: OrderRecord, customer_id: int, now: datetime
    ) -> tuple[Order, bool]:
        """Create or update the order and its items (by sku). Returns (order, created).

        Items no longer listed are removed unless a case refers to them: the case must keep
        pointing at what the customer actually bought.
        """
        order = await self.by_no(record.order_no)
        created = order is None
        if order is None:
            order = Order(order_no=record.order_no, created_at=now, items=[])
            self.session.add(order)
        order.customer_id = customer_id
        order.status = record.status
        order.placed_at = record.placed_at
        order.paid_at = record.paid_at
        order.shipped_at = record.shipped_at
        order.delivered_at = record.delivered_at
        order.payment_method = record.payment_method
        order.currency = record.currency
        order.shipping_fee = record.shipping_fee
        order.updated_at = now

        existing = {item.sku: item for item in order.items}
        listed = {item.sku for item in record.items}
        stale = [item for sku, item in existing.items() if sku not in listed]
        if stale:
            referenced = set(
                await self.session.scalars(
                    select(Case.item_id).where(Case.item_id.in_([i.id for i in stale]))
                )
            )
            for item in stale:
                if item.id not in referenced:
                    order.items.remove(item)
        for rec in record.items:
            item = existing.get(rec.sku)
            if item is None:
                item = OrderItem(sku=rec.sku)
                order.items.append(item)
            item.name = rec.name
            item.category = rec.category
            item.quantity = rec.quantity
            item.unit_price = rec.unit_price
        await self.session.flush()
        return order, created
