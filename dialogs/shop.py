"""What the conversation reads and writes about the shop, as plain views.

The conversation service implements `ShopPort` over the repositories of one transaction, so
everything a turn writes is committed together with the conversation state and the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from storage.repos.identification import FailureCounts


@dataclass(frozen=True)
class CustomerView:
    id: int
    phone: str | None
    name: str
    language: str


@dataclass(frozen=True)
class ItemView:
    id: int
    order_id: int
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True)
class OrderView:
    id: int
    order_no: str
    customer_id: int
    status: str
    placed_at: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    payment_method: str
    currency: str
    items: tuple[ItemView, ...] = ()

    @property
    def total(self) -> Decimal:
        return sum((i.unit_price * i.quantity for i in self.items), Decimal("0"))


@dataclass(frozen=True)
class CaseView:
    id: int
    case_no: str
    order_no: str
    item_name: str
    service: str
    reason: str
    status: str
    outcome: str
    created_at: datetime
    deadline_at: datetime | None = None


@dataclass(frozen=True)
class NewCase:
    order_id: int
    item_id: int
    order_no: str  # with the item's name: for the view of the new case, not stored twice
    item_name: str
    customer_id: int
    quantity: int
    service: str
    reason: str
    description: str
    status: str
    outcome: str
    rules: list[str]
    explanation_key: str
    explanation_values: dict[str, Any]
    alternatives: list[str]
    shipping_paid_by: str | None
    return_address: str | None
    deadline_at: datetime | None
    needs_agent_reason: str | None
    locale: str
    conditions: list[str] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)


class ShopPort(Protocol):
    async def customer(self, customer_id: int) -> CustomerView | None: ...
    async def customer_by_phone(self, phone: str) -> CustomerView | None: ...
    async def link_telegram(self, customer_id: int, user_id: int, *, take_over: bool) -> None:
        """Link the Telegram user to the customer; `take_over`: even if another user has it."""
        ...

    async def identification_failures(
        self,
        order_no: str,
        customer_id: int | None,
        *,
        order_since: datetime,
        everyone_since: datetime,
    ) -> FailureCounts: ...
    async def record_identification_failure(
        self, chat_id: int, order_no: str, customer_id: int | None, now: datetime
    ) -> None: ...
    async def order_by_no(self, order_no: str) -> OrderView | None: ...
    async def order(self, order_id: int) -> OrderView | None: ...
    async def order_with_claims(
        self, order_id: int, since: datetime
    ) -> tuple[OrderView | None, int]:
        """The order, and how many cases its customer opened since `since` (one look)."""
        ...

    async def orders_page(
        self, customer_id: int, offset: int, limit: int
    ) -> tuple[list[OrderView], int]: ...
    async def cases(self, customer_id: int, limit: int) -> list[CaseView]: ...
    async def evidence_used_elsewhere(self, file_unique_ids: list[str]) -> set[str]: ...
    async def create_case(self, case: NewCase, now: datetime) -> CaseView: ...
    async def add_case_event(
        self, case_id: int, actor: str, kind: str, data: dict[str, Any], now: datetime
    ) -> None: ...
