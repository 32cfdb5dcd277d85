"""The policy file format (YAML), as pydantic models. Docs: docs/policy.md.

Names of services, reasons, categories and conditions are closed sets (storage.domain) so that
a typo in a profile is an error at load time, not a silently ignored rule.
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from storage.domain import Category, Condition, Reason, Service

# The names come from storage.domain, so a profile accepts exactly what the conversation knows.
ServiceName = Literal[tuple(Service)]  # type: ignore[valid-type]
ReasonName = Literal[tuple(Reason)]  # type: ignore[valid-type]
ReasonOrDefault = Literal[("default", *Reason)]  # type: ignore[valid-type]
CategoryName = Literal[tuple(Category)]  # type: ignore[valid-type]
ConditionName = Literal[tuple(Condition)]  # type: ignore[valid-type]
Anchor = Literal["purchase", "payment", "shipment", "delivery", "discovery"]
Unit = Literal["hours", "days", "working_days"]
# Clocks may also count working hours (a first reply within 4 working hours).
ClockUnit = Literal["hours", "days", "working_days", "working_hours"]
Payer = Literal["merchant", "customer"]
ClockName = Literal[
    "first_reply",
    "review",
    "refund_after_receipt",
    "exchange_ship_after_receipt",
    "repair_after_receipt",
    "ship_back",
]
Expiry = Literal["remind", "escalate", "auto_approve", "auto_close"]
RuleSuffix = str  # checked by the loader: lower-case letters, digits and underscores


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Window(Strict):
    anchor: Anchor
    length: int
    unit: Unit


class Duration(Strict):
    length: int
    unit: Unit


class Tier(Strict):
    id: RuleSuffix | None = None  # rule id suffix; default tier1, tier2, ...
    window: Window
    # The tier opens only this long after the window's anchor (T20: repair after the period).
    not_before: Duration | None = None
    conditions: list[ConditionName] = []
    reasons: list[ReasonName] | None = None  # None: every reason of the service
    outcome: Literal["approve", "needs_agent"] = "approve"


class PastWindow(Strict):
    action: Literal["reject", "needs_agent", "offer"] = "reject"
    offer: list[ServiceName] = []
    rule: RuleSuffix = "past_window"


class EvidenceSpec(Strict):
    kind: Literal["photo", "video", "photo_or_video", "proof_of_purchase"]
    count: int = 1
    proof_of_purchase: bool = False  # one of the `count` files must show the receipt/invoice


class ServiceSpec(Strict):
    reasons: list[ReasonName]
    tiers: list[Tier]
    past_window: PastWindow = PastWindow()
    evidence: dict[ReasonOrDefault, EvidenceSpec | None] = {}
    shipping: dict[ReasonOrDefault, Payer] = {}
    # Who pays to send the customer the replacement, the repaired item or the missing parts
    # (exchange, repair, missing_parts); default: the merchant.
    replacement_shipping: dict[ReasonOrDefault, Payer] = {}
    goods_back: bool = True  # False: refund without return, reship of missing parts
    return_method: Literal["pickup", "drop_off"] = "drop_off"
    # Where the goods go back to: a code of the WAREHOUSES setting (default: its first, main).
    warehouse: str | None = None


class CategorySpec(Strict):
    exclude_services: list[ServiceName] = []
    exclude_reasons: dict[ServiceName, list[ReasonName]] = {}
    # Extra conditions per reason for this category (hygiene goods: unused, sealed).
    conditions: dict[ReasonName, list[ConditionName]] = {}
    warranty: Duration | None = None  # replaces the window length of repair's first tier
    high_risk: bool = False
    rule: str | None = None  # rule id of its exclusions; default <profile>.category.<name>
    warehouse: str | None = None  # its goods go back there, whatever the service says


class WorkingHours(Strict):
    """When the shop's people work on a working day (local time): working-hour clocks run
    only then."""

    start: time = time(9, 0)
    end: time = time(18, 0)


class CalendarSpec(Strict):
    country: str = "CN"
    extra_holidays: list[date] = []
    extra_working_days: list[date] = []
    working_hours: WorkingHours = WorkingHours()


class Escalation(Strict):
    order_value_over: Decimal | None = None
    repeat_claims: int | None = None  # prior_claims >= this goes to a person
    repeat_claims_days: int = Field(90, ge=1)  # how far back prior claims count
    evidence_reused: Literal["needs_agent", "reject"] = "needs_agent"
    deliberate_damage: Literal["needs_agent", "reject"] = "needs_agent"
    disputed: Literal["needs_agent"] = "needs_agent"
    high_risk: bool = True  # claims on high-risk categories go to a person


class ClockDuration(Strict):
    length: int
    unit: ClockUnit


class Clock(Strict):
    length: int
    unit: ClockUnit
    on_expiry: Expiry = "remind"
    by_payment: dict[Literal["online", "cod"], ClockDuration] = {}


class PolicyFile(Strict):
    name: str
    title: dict[Literal["zh", "en"], str] = {}
    timezone: str = "Asia/Shanghai"
    currency: str = "CNY"
    # Largest evidence file accepted; bots cannot download more than 20 MB from Telegram.
    evidence_max_mb: int = Field(20, ge=1, le=20)
    # Days after which a finished case's personal data is anonymised (PIPL; 3 years).
    retention_days: int = Field(1095, ge=1)
    calendar: CalendarSpec = CalendarSpec()
    services: dict[ServiceName, ServiceSpec] = Field(min_length=1)
    categories: dict[CategoryName, CategorySpec] = {}
    escalation: Escalation = Escalation()
    sla: dict[ClockName, Clock] = {}
