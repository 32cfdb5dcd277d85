"""Plain objects storage hands out: what a reader needs of a row, nothing of the ORM.

The conversation and the agents' logic work on these; repositories build them, so no session,
lazy load or row position ever leaks out of `storage`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True, slots=True)
class CustomerView:
    id: int
    phone: str | None
    name: str
    language: str
    telegram_user_id: int | None = None


@dataclass(frozen=True, slots=True)
class ItemView:
    id: int
    order_id: int
    sku: str
    name: str
    category: str
    quantity: int
    unit_price: Decimal


@dataclass(frozen=True, slots=True)
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
    shipping_fee: Decimal = Decimal("0.00")
    freight_insurance: Decimal | None = None  # 运费险: return shipping covered up to this

    @property
    def total(self) -> Decimal:
        return sum((i.unit_price * i.quantity for i in self.items), Decimal("0"))


@dataclass(frozen=True, slots=True)
class CaseView:
    id: int
    case_no: str
    kind: str
    order_no: str | None
    item_name: str | None
    service: str | None
    reason: str | None
    status: str
    outcome: str
    created_at: datetime
    deadline_at: datetime | None = None
    customer_id: int = 0
    chat_id: int | None = None
    order_id: int | None = None
    item_id: int | None = None
    locale: str = "zh"
    handed_over_at: datetime | None = None
    first_response_at: datetime | None = None
    quantity: int = 1
    description: str = ""
    desk: str | None = None  # where it stands with the shop's people (storage.domain.Desk)
    dispute: str | None = None
    agent_chat_id: int | None = None  # the agents' group that carries it
    topic_id: int | None = None  # its forum topic there (0: the group has no topics)
    card_message_id: int | None = None
    owner_id: int | None = None  # the Telegram user id of the agent who took it
    owner_name: str | None = None
    # after the decision (dialogs/lifecycle)
    shipping_paid_by: str | None = None
    return_address: str | None = None
    warehouse: str | None = None
    carrier: str | None = None  # the parcel back to the shop
    waybill: str | None = None
    refund_amount: Decimal | None = None
    refunded_at: datetime | None = None
    closed_at: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)  # exchange_for, resolution, outbound…


@dataclass(frozen=True, slots=True)
class CaseEventView:
    at: datetime
    actor: str
    actor_id: int | None
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CaseCard:
    """What the agents' case card shows: the case and what a person needs to decide it."""

    case: CaseView
    customer: CustomerView
    unit_price: Decimal | None
    currency: str
    rules: list[str]
    needs_agent_reason: str | None
    explanation_key: str
    explanation_values: dict[str, Any]
    details: dict[str, Any]
    evidence: list[tuple[str, str]]  # (kind, file_id)
    earlier: list[CaseView]  # the customer's other cases, newest first


@dataclass(frozen=True, slots=True)
class NewCase:
    order_id: int
    item_id: int
    order_no: str  # with the item's name: for the view of the new case, not stored twice
    item_name: str
    customer_id: int
    chat_id: int
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
    details: dict[str, Any] = field(default_factory=dict)  # e.g. what an exchange is for
    warehouse: str | None = None  # where the goods go back to (settings' WAREHOUSES)


@dataclass(frozen=True, slots=True)
class NewQuestion:
    """A customer asking for a person with no request at hand."""

    customer_id: int
    chat_id: int
    text: str
    locale: str


@dataclass(frozen=True, slots=True)
class FailureCounts:
    order_no: int  # wrong digits for this order number, since `order_since`
    customer: int  # for any order of this customer, since `order_since`
    everyone: int  # all of them, since `everyone_since`


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """A chat's open conversation as stored, at the version it was read."""

    id: int
    chat_id: int
    user_id: int
    state: str
    context: dict[str, Any]
    locale: str
    customer_id: int | None
    mode: str
    version: int


@dataclass(frozen=True, slots=True)
class TimerView:
    id: int
    kind: str
    due_at: datetime
    case_id: int | None
    chat_id: int | None
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SurveyView:
    case_id: int
    asked_at: datetime
    rating: int | None = None
    attitude: int | None = None
    speed: int | None = None
    result: int | None = None
    comment: str | None = None
    reminded_at: datetime | None = None
    answered_at: datetime | None = None
