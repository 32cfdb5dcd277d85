"""Tables. Domain names (statuses, services, categories) are plain strings guarded by CHECKs
built from `storage.domain`, the one list of each name."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage import domain
from storage.types import JSONType, UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(12, 2)


def _one_of(column: str, values: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({listed})"


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UTCDateTime(),
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        Decimal: Money,
    }


def _names(enum: type[StrEnum]) -> tuple[str, ...]:
    return tuple(member.value for member in enum)


ORDER_STATUSES = _names(domain.OrderStatus)
PAYMENT_METHODS = _names(domain.PaymentMethod)
CATEGORIES = _names(domain.Category)
LANGUAGES = _names(domain.Locale)
OUTCOMES = _names(domain.Outcome)
ACTORS = _names(domain.Actor)
EVIDENCE_KINDS = _names(domain.EvidenceKind)
INBOX_STATUSES = _names(domain.InboxStatus)
OUTBOX_STATUSES = _names(domain.OutboxStatus)
# The outbox's queue: what a worker may still send (the partial index ix_outbox_unsent).
OUTBOX_UNSENT = (
    f"status IN ('{domain.OutboxStatus.PENDING.value}', '{domain.OutboxStatus.SENDING.value}')"
)
CONVERSATION_MODES = _names(domain.ConversationMode)
AGENT_ROLES = _names(domain.AgentRole)
CASE_KINDS = _names(domain.CaseKind)
CASE_STATUSES = _names(domain.CaseStatus)
DESKS = _names(domain.Desk)
DISPUTES = _names(domain.Dispute)
SERVICES = _names(domain.Service)
REASONS = _names(domain.Reason)


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (CheckConstraint(_one_of("language", LANGUAGES), name="language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5), default="zh")
    telegram_user_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(_one_of("status", ORDER_STATUSES), name="status"),
        CheckConstraint(_one_of("payment_method", PAYMENT_METHODS), name="payment_method"),
        CheckConstraint("shipping_fee >= 0", name="shipping_fee"),
        Index("ix_orders_customer_placed", "customer_id", "placed_at"),
        # Units sold in a report's period: the ids from the index alone (migration 0011).
        Index("ix_orders_placed_at", "placed_at", postgresql_include=["id"]),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_no: Mapped[str] = mapped_column(String(64), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(16))
    placed_at: Mapped[datetime]
    paid_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    payment_method: Mapped[str] = mapped_column(String(8))
    currency: Mapped[str] = mapped_column(String(3))
    shipping_fee: Mapped[Decimal] = mapped_column(default=Decimal("0.00"))
    freight_insurance: Mapped[Decimal | None]  # 运费险: return shipping covered up to this
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    customer: Mapped[Customer] = relationship()
    # Items are always wanted with their order (lists, summaries, policy), so load them eagerly.
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="OrderItem.id",
    )


class OrderItem(Base):
    __tablename__ = "order_items"
    __table_args__ = (
        UniqueConstraint("order_id", "sku"),
        Index("ix_order_items_sold", "order_id", "sku", "quantity"),  # a report's units sold
        CheckConstraint(_one_of("category", CATEGORIES), name="category"),
        CheckConstraint("quantity > 0", name="quantity"),
        CheckConstraint("unit_price >= 0", name="unit_price"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[int]
    unit_price: Mapped[Decimal]

    order: Mapped[Order] = relationship(back_populates="items")


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (CheckConstraint(_one_of("role", AGENT_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    active: Mapped[bool] = mapped_column(default=True)


class Case(Base):
    """A customer's request about one item, or a question for a person (no order or item)."""

    __tablename__ = "cases"
    __table_args__ = (
        CheckConstraint(_one_of("kind", CASE_KINDS), name="kind"),
        CheckConstraint(_one_of("status", CASE_STATUSES), name="status"),
        CheckConstraint(_one_of("outcome", OUTCOMES), name="outcome"),
        CheckConstraint(_one_of("desk", DESKS), name="desk"),
        CheckConstraint(_one_of("dispute", DISPUTES), name="dispute"),
        CheckConstraint(_one_of("service", SERVICES), name="service"),
        CheckConstraint(_one_of("reason", REASONS), name="reason"),
        CheckConstraint(
            "kind = 'question' OR (order_id IS NOT NULL AND item_id IS NOT NULL"
            " AND service IS NOT NULL AND reason IS NOT NULL)",
            name="request_names_its_item",
        ),
        CheckConstraint("quantity > 0", name="quantity"),
        Index("ix_cases_customer_created", "customer_id", "created_at"),
        Index("ix_cases_topic", "agent_chat_id", "topic_id"),  # a topic's case, for its updates
        Index("ix_cases_card", "agent_chat_id", "card_message_id"),  # a plain group's replies
        Index("ix_cases_waybill", "waybill"),  # a number used twice; the carrier's updates
        Index("ix_cases_status", "status"),
        # Reports (storage/repos/reports.py): a period's cases, and its refunds.
        Index("ix_cases_created_at", "created_at"),
        Index("ix_cases_refunded_at", "refunded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_no: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=domain.CaseKind.REQUEST.value)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(ForeignKey("order_items.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    quantity: Mapped[int] = mapped_column(default=1)
    service: Mapped[str | None] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16))
    rules: Mapped[list[Any]] = mapped_column(default=list)
    explanation_key: Mapped[str] = mapped_column(String(100), default="")
    explanation_values: Mapped[dict[str, Any]] = mapped_column(default=dict)
    alternatives: Mapped[list[Any]] = mapped_column(default=list)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)  # what an exchange is for, ...
    shipping_paid_by: Mapped[str | None] = mapped_column(String(16))
    return_address: Mapped[str | None] = mapped_column(Text)
    carrier: Mapped[str | None] = mapped_column(String(64))  # of the parcel back to the shop
    waybill: Mapped[str | None] = mapped_column(String(64))
    warehouse: Mapped[str | None] = mapped_column(String(64))  # where the goods go back to
    refund_amount: Mapped[Decimal | None]
    refunded_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    deadline_at: Mapped[datetime | None]
    needs_agent_reason: Mapped[str | None] = mapped_column(String(200))
    assigned_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    # The chat of the customer's conversation: where news about the case goes.
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    # The forum topic in the agents' group that carries the case, once it has one.
    agent_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    topic_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)  # the case card there
    desk: Mapped[str | None] = mapped_column(String(16))  # with the shop's people (Desk)
    dispute: Mapped[str | None] = mapped_column(String(16))  # the customer's complaint
    handed_over_at: Mapped[datetime | None]  # when it went to a person
    first_response_at: Mapped[datetime | None]  # when a person first answered
    locale: Mapped[str] = mapped_column(String(5), default="zh")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer)

    order: Mapped[Order | None] = relationship()
    item: Mapped[OrderItem | None] = relationship()
    customer: Mapped[Customer] = relationship()

    # Two writers (customer chat and agent topic) may touch one case; the loser gets
    # StaleDataError instead of silently overwriting.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class CaseEvent(Base):
    __tablename__ = "case_events"
    __table_args__ = (CheckConstraint(_one_of("actor", ACTORS), name="actor"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Evidence(Base):
    __tablename__ = "evidence"
    __table_args__ = (CheckConstraint(_one_of("kind", EVIDENCE_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    file_id: Mapped[str] = mapped_column(String(255))
    file_unique_id: Mapped[str] = mapped_column(String(128), index=True)
    media_group_id: Mapped[str | None] = mapped_column(String(64))
    local_path: Mapped[str | None] = mapped_column(String(500))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint(_one_of("mode", CONVERSATION_MODES), name="mode"),
        # At most one open conversation per chat, even with several workers.
        Index(
            "uq_conversations_open_chat",
            "chat_id",
            unique=True,
            sqlite_where=text("is_open"),
            postgresql_where=text("is_open"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    state: Mapped[str] = mapped_column(String(64))
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    locale: Mapped[str] = mapped_column(String(5), default="zh")
    mode: Mapped[str] = mapped_column(String(8), default="bot")
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    # Two workers stepping the same chat must not both win.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class Inbox(Base):
    """Raw updates in the order they arrived. Telegram's `update_id` alone is not an update's
    identity: after a week without updates Telegram picks the next id at random, so a new
    update may carry an id seen before. `identity` (chat and message, callback query id, ...)
    tells a redelivery (same id and identity: dropped) from a new update (kept)."""

    __tablename__ = "inbox"
    __table_args__ = (
        CheckConstraint(_one_of("status", INBOX_STATUSES), name="status"),
        UniqueConstraint("update_id", "identity"),
        Index("ix_inbox_status_id", "status", "id"),
        # A lane's pending rows in Telegram's order: what a worker holding the lane works next.
        Index("ix_inbox_lane_status_update", "lane", "status", "update_id"),
    )

    # SQLite autoincrements only an INTEGER PRIMARY KEY (the rowid).
    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    update_id: Mapped[int] = mapped_column(BigInteger)
    identity: Mapped[str] = mapped_column(String(160))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    # The customer's chat the update concerns (a case topic's update: its customer's), known
    # when it is stored: several workers order and claim work by it (`storage.repos.lanes`).
    lane: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class Lane(Base):
    """Which worker holds a customer's lane, until when: with several workers on one database
    a lane's updates are worked by its holder alone, in order; a lease that ran out (the
    holder died) is taken over."""

    __tablename__ = "lanes"

    lane: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    holder: Mapped[str | None] = mapped_column(String(40))
    until: Mapped[datetime | None]


class RateSlot(Base):
    """Telegram's flood limits shared by all workers: each bucket's theoretical arrival time
    (seconds on the database server's clock). Key 0 is the bot's overall bucket."""

    __tablename__ = "rate_slots"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tat: Mapped[float] = mapped_column(Float)


class Outbox(Base):
    """Outgoing messages, sent in id order per chat. A worker takes a row by setting it
    `sending` with its id in `claimed_by` until `lease_until`; a multi-part message records
    each accepted part (`steps_done`, `last_message_id`) so a retry never repeats one."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_one_of("status", OUTBOX_STATUSES), name="status"),
        # Each chat's oldest unsent row, looked up for every message the worker sends. The
        # queue's statements write UNSENT out (a partial index is not used by statements that
        # bind the statuses as parameters); migration 0013 says why it is partial.
        Index(
            "ix_outbox_unsent",
            "chat_id",
            "id",
            sqlite_where=text(OUTBOX_UNSENT),
            postgresql_where=text(OUTBOX_UNSENT),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_thread_id: Mapped[int | None] = mapped_column(BigInteger)  # a forum topic
    # Rows of one case's topic share a key: queued texts leave as one message, and only the
    # newest of several card edits is sent (the agents' group has 20 messages a minute).
    coalesce_key: Mapped[str | None] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]  # a retry waits until then
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    steps_done: Mapped[int] = mapped_column(default=0)
    last_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)


DIGEST_LIVE = "kind = 'report_digest' AND fired_at IS NULL AND cancelled_at IS NULL"


class Timer(Base):
    """A clock that falls due: fired once (`fired_at`), by whichever worker claims it first
    (`claimed_by` until `lease_until`; a vanished worker's claim is taken over after it)."""

    __tablename__ = "timers"
    # Only the live timers, by due time: fired and cancelled ones pile up with the shop's
    # history and would lie in the range every look walks (bench/timer_bench.py).
    __table_args__ = (
        Index("ix_timers_live_due", "due_at",
              sqlite_where=text("fired_at IS NULL AND cancelled_at IS NULL"),
              postgresql_where=text("fired_at IS NULL AND cancelled_at IS NULL")),
        # A report's service clocks due in its period, by clock.
        Index("ix_timers_kind_due", "kind", "due_at"),
        # One live weekly digest however many workers start at once (bot/reports/digest.py).
        Index("uq_timers_live_digest", "kind", unique=True,
              sqlite_where=text(DIGEST_LIVE), postgresql_where=text(DIGEST_LIVE)),
    )  # fmt: skip

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)  # whose work it is (the lane)
    kind: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]
    fired_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]  # the clock no longer matters (answered in time)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Survey(Base):
    """The customer's rating of a closed case: overall, then T9's three dimensions."""

    __tablename__ = "surveys"
    __table_args__ = (
        CheckConstraint("rating BETWEEN 1 AND 5", name="rating"),
        CheckConstraint("attitude BETWEEN 1 AND 5", name="attitude"),
        CheckConstraint("speed BETWEEN 1 AND 5", name="speed"),
        CheckConstraint("result BETWEEN 1 AND 5", name="result"),
        Index("ix_surveys_answered_at", "answered_at"),  # a report's ratings
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    rating: Mapped[int | None]
    attitude: Mapped[int | None]
    speed: Mapped[int | None]
    result: Mapped[int | None]
    comment: Mapped[str | None] = mapped_column(Text)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))  # who had the case
    reminded_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]


class BlockedChat(Base):
    __tablename__ = "blocked_chats"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    blocked_at: Mapped[datetime] = mapped_column(default=utcnow)


class IdentificationFailure(Base):
    """A wrong answer to "the last four digits of your phone" for an order number. Counted per
    order number, per customer and overall across every chat, so that fresh Telegram accounts
    do not each get five more guesses."""

    __tablename__ = "identification_failures"
    __table_args__ = (
        Index("ix_identification_failures_order_no_at", "order_no", "at"),
        Index("ix_identification_failures_customer_at", "customer_id", "at"),
        Index("ix_identification_failures_at", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    chat_id: Mapped[int] = mapped_column(BigInteger)
    order_no: Mapped[str] = mapped_column(String(64))  # as typed: existing or not alike
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))


class CaseCounter(Base):
    __tablename__ = "case_counters"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
