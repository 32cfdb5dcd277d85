"""Names shared by the policy, the conversation and storage (stored as plain strings)."""

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


LOCALES = ("zh", "en")
