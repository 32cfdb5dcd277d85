"""Orders and their items."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, bindparam, func, select
from sqlalchemy.orm import selectinload

from storage.models import Case, Order, OrderItem
from storage.records import OrderRecord
from storage.repos.base import Repo, on_postgresql, one_of
from storage.views import ItemView, OrderView

_orders, _items = Order.__table__, OrderItem.__table__
ORDER_FIELDS = ("id", "order_no", "customer_id", "status", "placed_at", "paid_at", "shipped_at",
                "delivered_at", "payment_method", "currency", "shipping_fee",
                "freight_insurance")  # fmt: skip
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
# Claims that stand: a refused or cancelled request, or a question, is no claim against the shop.
NOT_STANDING = ("rejected", "cancelled")
_PRIOR_CLAIMS = (
    select(func.count())
    .select_from(_cases)
    .where(
        _cases.c.customer_id == _orders.c.customer_id,
        _cases.c.kind == "request",
        _cases.c.status.not_in(NOT_STANDING),
        _cases.c.created_at >= bindparam("since", type_=_cases.c.created_at.type),
    )
    .scalar_subquery()
)
# The same, with how many claims the order's customer made since `since` (a policy fact that
# is wanted on the same turns): one statement for both.
_WITH_CLAIMS = _ORDER_ROWS.add_columns(_PRIOR_CLAIMS.label("claims_since"))
_WITH_ITEMS_AND_CLAIMS = _WITH_CLAIMS.where(_ONE)
_SEVERAL_WITH_CLAIMS = {
    array: _WITH_CLAIMS.where(one_of(_orders.c.id, "order_ids", array=array))
    for array in (False, True)
}
_BY_NO = _ORDER_ROWS.where(_orders.c.order_no == bindparam("order_no"))

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
    async def view(self, order_id: int) -> OrderView | None:
        return _view(await self._rows(_WITH_ITEMS, {"order_id": order_id}))

    async def view_by_no(self, order_no: str) -> OrderView | None:
        return _view(await self._rows(_BY_NO, {"order_no": order_no}))

    async def view_with_claims(
        self, order_id: int, claims_since: datetime
    ) -> tuple[OrderView | None, int]:
        """The order, and how many standing claims its customer made since then."""
        rows = await self._rows(
            _WITH_ITEMS_AND_CLAIMS, {"order_id": order_id, "since": claims_since}
        )
        return _view(rows), (rows[0].claims_since if rows else 0)

    async def views_with_claims(
        self, order_ids: Sequence[int], claims_since: datetime
    ) -> dict[int, tuple[OrderView | None, int]]:
        """`view_with_claims` of several orders in one statement, by order id."""
        rows = await self._rows(
            _SEVERAL_WITH_CLAIMS[on_postgresql(self.session)],
            {"order_ids": list(order_ids), "since": claims_since},
        )
        grouped: dict[int, list[Row[Any]]] = {}
        for row in rows:
            grouped.setdefault(row.id, []).append(row)
        return {oid: (_view(group), group[0].claims_since) for oid, group in grouped.items()}

    async def page(self, customer_id: int, offset: int, limit: int) -> tuple[list[OrderView], int]:
        """A page of the customer's orders, newest first, and how many they have in all."""
        params = {"customer_id": customer_id, "offset": offset, "limit": limit}
        rows = await self._rows(_PAGE_WITH_ITEMS, params)
        if not rows:  # past the last page (or no orders): only the total is wanted
            return [], await self.count_for_customer(customer_id)
        grouped: dict[int, list[Row[Any]]] = {}
        for row in rows:
            grouped.setdefault(row.id, []).append(row)
        views = [_view(group) for group in grouped.values()]  # newest first, as read
        return [v for v in views if v is not None], rows[0].total

    async def count_for_customer(self, customer_id: int) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(Order).where(Order.customer_id == customer_id)
        )
        return count or 0

    async def _rows(self, statement: Any, params: dict[str, Any]) -> Sequence[Row[Any]]:
        return (await self.session.execute(statement, params)).all()

    async def by_no(self, order_no: str) -> Order | None:
        """The ORM object, for the importer."""
        return await self.session.scalar(
            select(Order).where(Order.order_no == order_no).options(selectinload(Order.items))
        )

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
        order.freight_insurance = record.freight_insurance
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


def _view(rows: Sequence[Row[Any]]) -> OrderView | None:
    """An order from its rows (one per item; item columns None when it has none)."""
    if not rows:
        return None
    first = rows[0]
    items = tuple(
        ItemView(
            id=row.item_id,
            order_id=first.id,
            sku=row.sku,
            name=row.name,
            category=row.category,
            quantity=row.quantity,
            unit_price=row.unit_price,
        )
        for row in rows
        if row.item_id is not None
    )
    return OrderView(**{name: getattr(first, name) for name in ORDER_FIELDS}, items=items)
