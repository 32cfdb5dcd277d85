"""The names the shop's data is made of: the one list of each, shared by everything.

The policy accepts exactly these, the conversation speaks of them, and the tables' CHECK
constraints are built from them (`storage/models.py`), so a name cannot be known in one place
and refused in another. Stored as plain strings.
"""

from __future__ import annotations

from enum import StrEnum


class Service(StrEnum):
    RETURN = "return"
    EXCHANGE = "exchange"
    REPAIR = "repair"
    REFUND = "refund"
    MISSING_PARTS = "missing_parts"


class Reason(StrEnum):
    NO_REASON = "no_reason"
    QUALITY = "quality"
    NOT_AS_DESCRIBED = "not_as_described"
    TRANSIT_DAMAGE = "transit_damage"
    WRONG_ITEM = "wrong_item"
    MISSING_PARTS = "missing_parts"
    SIZE_COLOUR = "size_colour"
    NOT_RECEIVED = "not_received"


class Category(StrEnum):
    ELECTRONICS = "electronics"
    APPLIANCES = "appliances"
    APPAREL = "apparel"
    FRESH_FOOD = "fresh_food"
    CUSTOM_MADE = "custom_made"
    DIGITAL = "digital"
    PERIODICALS = "periodicals"
    HYGIENE = "hygiene"
    OTHER = "other"


class Condition(StrEnum):
    UNUSED = "unused"
    PACKAGING_INTACT = "packaging_intact"
    ACCESSORIES_COMPLETE = "accessories_complete"
    TAGS_ATTACHED = "tags_attached"


class PaymentMethod(StrEnum):
    ONLINE = "online"
    COD = "cod"


class Outcome(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    NEEDS_AGENT = "needs_agent"


class OrderStatus(StrEnum):
    PENDING = "pending"
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class CaseKind(StrEnum):
    """A request about an item (one of the services), or a question for a person."""

    REQUEST = "request"
    QUESTION = "question"


class CaseStatus(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    PENDING_REVIEW = "pending_review"
    INFO_REQUESTED = "info_requested"
    AWAITING_RETURN = "awaiting_return"
    IN_TRANSIT = "in_transit"
    RECEIVED = "received"
    INSPECTED = "inspected"
    REFUNDED = "refunded"
    EXCHANGE_SHIPPED = "exchange_shipped"
    REPAIRED_RETURNED = "repaired_returned"
    CLOSED = "closed"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"


class Desk(StrEnum):
    """Where a case stands with the people on the shop's side (the agents' machine,
    `dialogs/agents/desk.py`)."""

    QUEUED = "queued"  # waiting for a person
    TAKEN = "taken"  # an agent owns it
    ASKED = "asked"  # the customer was asked for more information or evidence
    OFFERED = "offered"  # an alternative waits for the customer's yes or no
    DECIDED = "decided"  # approved or rejected by a person
    RETURNED = "returned"  # handed back to the bot
    CLOSED = "closed"


class Dispute(StrEnum):
    """A customer's complaint about a decision (T9 平台介入, T10), once per case."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"


class Actor(StrEnum):
    CUSTOMER = "customer"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class EvidenceKind(StrEnum):
    PHOTO = "photo"
    VIDEO = "video"
    DOCUMENT = "document"


class InboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a worker until its lease ends
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"


class ConversationMode(StrEnum):
    BOT = "bot"
    AGENT = "agent"


class AgentRole(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"


class Locale(StrEnum):
    ZH = "zh"
    EN = "en"


LOCALES = tuple(Locale)
