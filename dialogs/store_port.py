"""`ShopPort` over the repositories of one open transaction (views out, no ORM leaks)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.shop import CaseView, CustomerView, ItemView, NewCase, OrderView
from storage.models import Case, Customer, Order
from storage.repos import (
    CaseRepo,
    CustomerRepo,
    EvidenceRepo,
    FailureCounts,
    IdentificationRepo,
    OrderRepo,
)
from storage.repos.orders import ITEM_FIELDS, ORDER_FIELDS


class StoragePort:
    def __init__(self, session: AsyncSession, timezone: str) -> None:
        self.tz = timezone
        self.customers = CustomerRepo(session)
        self.orders = OrderRepo(session)
        self.case_repo = CaseRepo(session)
        self.evidence = EvidenceRepo(session)
        self.identification = IdentificationRepo(session)
        # `order_with_claims` answers read ahead by `preload_orders`, by (order id, since)
        self._preloaded: dict[tuple[int, datetime], tuple[OrderView | None, int]] = {}

    async def customer(self, customer_id: int) -> CustomerView | None:
        found = await self.customers.get(customer_id)
        return _customer(found) if found else None

    async def customer_by_phone(self, phone: str) -> CustomerView | None:
        found = await self.customers.by_phone(phone)
        return _customer(found) if found else None

    async def link_telegram(self, customer_id: int, user_id: int, *, take_over: bool) -> None:
        found = await self.customers.get(customer_id)
        if found is None:
            return
        if take_over or found.telegram_user_id is None:
            await self.customers.link_telegram(found, user_id)

    async def identification_failures(
        self,
        order_no: str,
        customer_id: int | None,
        *,
        order_since: datetime,
        everyone_since: datetime,
    ) -> FailureCounts:
        return await self.identification.counts(
            order_no, customer_id, order_since=order_since, everyone_since=everyone_since
        )

    async def record_identification_failure(
        self, chat_id: int, order_no: str, customer_id: int | None, now: datetime
    ) -> None:
        await self.identification.record_failure(chat_id, order_no, customer_id, now)

    async def order_by_no(self, order_no: str) -> OrderView | None:
        found = await self.orders.by_no(order_no)
        return order_view(found) if found else None

    async def order(self, order_id: int) -> OrderView | None:
        return _order_view(await self.orders.rows_with_items(order_id))

    async def order_with_claims(
        self, order_id: int, since: datetime
    ) -> tuple[OrderView | None, int]:
        known = self._preloaded.get((order_id, since))
        if known is not None:
            return known
        rows = await self.orders.rows_with_items(order_id, claims_since=since)
        return _order_view(rows), (rows[0].claims_since if rows else 0)

    async def preload_orders(self, order_ids: Collection[int], since: datetime) -> None:
        """Reads what `order_with_claims(id, since)` will be asked for these orders, in one
        statement (the turns of a batch each need their conversation's order)."""
        if not order_ids:
            return
        by_order = _by_order(await self.orders.rows_with_claims_of(order_ids, since))
        for order_id in order_ids:
            rows = by_order.get(order_id, [])
            self._preloaded[(order_id, since)] = (
                _order_view(rows),
                rows[0].claims_since if rows else 0,
            )

    async def orders_page(
        self, customer_id: int, offset: int, limit: int
    ) -> tuple[list[OrderView], int]:
        rows = await self.orders.page_rows(customer_id, offset, limit)
        if not rows:  # past the last page (or no orders): only the total is wanted
            return [], await self.orders.count_for_customer(customer_id)
        views = [_order_view(group) for group in _by_order(rows).values()]  # newest first
        return [v for v in views if v is not None], rows[0].total

    async def cases(self, customer_id: int, limit: int) -> list[CaseView]:
        return [case_view(c) for c in await self.case_repo.list_for_customer(customer_id, limit)]

    async def evidence_used_elsewhere(self, file_unique_ids: list[str]) -> set[str]:
        return await self.evidence.used_elsewhere(file_unique_ids)

    async def create_case(self, case: NewCase, now: datetime) -> CaseView:
        # The customer has one more recent claim now: what was read ahead is out of date.
        self._preloaded = {
            key: (order, claims)
            for key, (order, claims) in self._preloaded.items()
            if order is None or order.customer_id != case.customer_id
        }
        row = await self.case_repo.create(
            now=now,
            tz=self.tz,
            order_id=case.order_id,
            item_id=case.item_id,
            customer_id=case.customer_id,
            quantity=case.quantity,
            service=case.service,
            reason=case.reason,
            description=case.description,
            status=case.status,
            outcome=case.outcome,
            rules=case.rules,
            explanation_key=case.explanation_key,
            explanation_values=case.explanation_values,
            alternatives=case.alternatives,
            shipping_paid_by=case.shipping_paid_by,
            return_address=case.return_address,
            deadline_at=case.deadline_at,
            needs_agent_reason=case.needs_agent_reason,
            locale=case.locale,
        )
        for e in case.evidence:
            await self.evidence.add(
                row.id,
                e["kind"],
                e["file_id"],
                e["file_unique_id"],
                created_at=now,
                media_group_id=e.get("media_group_id"),
                local_path=e.get("local_path"),
                sha256=e.get("sha256"),
                size_bytes=e.get("size_bytes"),
                flush=False,
            )
        await self.case_repo.add_event(
            row,
            "customer",
            "submitted",
            {
                "service": case.service,
                "reason": case.reason,
                "quantity": case.quantity,
                "conditions": case.conditions,
                "evidence": len(case.evidence),
            },
            now,
            flush=False,
        )
        await self.case_repo.add_event(
            row,
            "bot",
            "decided",
            {"outcome": case.outcome, "rules": case.rules, "status": case.status},
            now,
            flush=False,
        )
        await self.case_repo.session.flush()  # evidence and both events: one flush
        return case_view(row, order_no=case.order_no, item_name=case.item_name)

    async def add_case_event(
        self, case_id: int, actor: str, kind: str, data: dict[str, Any], now: datetime
    ) -> None:
        row = await self.case_repo.get(case_id)
        if row is not None:
            await self.case_repo.add_event(row, actor, kind, data, now)


def _customer(c: Customer) -> CustomerView:
    return CustomerView(id=c.id, phone=c.phone, name=c.name, language=c.language)


def _by_order(rows: Sequence[Row[Any]]) -> dict[int, list[Row[Any]]]:
    """Rows of several orders (one per item), grouped by order id in the order they came."""
    grouped: dict[int, list[Row[Any]]] = {}
    for row in rows:
        grouped.setdefault(row.id, []).append(row)
    return grouped


def _order_view(rows: Sequence[Row[Any]]) -> OrderView | None:
    """From `OrderRepo.rows_with_items` rows."""
    if not rows:
        return None
    first = rows[0]
    items = tuple(
        ItemView(row.item_id, first.id, *(getattr(row, f) for f in ITEM_FIELDS))
        for row in rows
        if row.item_id is not None
    )
    return OrderView(*(getattr(first, f) for f in ORDER_FIELDS), items=items)


def order_view(o: Order) -> OrderView:
    return OrderView(
        id=o.id,
        order_no=o.order_no,
        customer_id=o.customer_id,
        status=o.status,
        placed_at=o.placed_at,
        paid_at=o.paid_at,
        shipped_at=o.shipped_at,
        delivered_at=o.delivered_at,
        payment_method=o.payment_method,
        currency=o.currency,
        items=tuple(
            ItemView(
                id=i.id,
                order_id=o.id,
                sku=i.sku,
                name=i.name,
                category=i.category,
                quantity=i.quantity,
                unit_price=i.unit_price,
            )
            for i in sorted(o.items, key=lambda i: i.id)
        ),
    )


def case_view(c: Case, *, order_no: str | None = None, item_name: str | None = None) -> CaseView:
    """`order_no` and `item_name` when known, else from the case's loaded relationships."""
    return CaseView(
        id=c.id,
        case_no=c.case_no,
        order_no=order_no if order_no is not None else c.order.order_no,
        item_name=item_name if item_name is not None else c.item.name,
        service=c.service,
        reason=c.reason,
        status=c.status,
        outcome=c.outcome,
        created_at=c.created_at,
        deadline_at=c.deadline_at,
    )
