"""What the database counts for one report period: plain numbers, grouped in SQL.

`storage.repos.reports` fills these; `dialogs.reports` shapes them (shares, percentiles in
working hours, the comparison with the period before). Nothing here names a customer: a
repeat claimer is a count, never a phone or a name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

# The shop's own clocks (what it promised): the customer's ship-back deadline and the
# reminders before a deadline are not the shop's to meet.
SERVICE_CLOCKS = (
    "first_response",
    "review",
    "refund_after_receipt",
    "exchange_ship_after_receipt",
    "repair_after_receipt",
)


@dataclass(frozen=True, slots=True)
class CubeRow:
    """How many cases of one kind, service, reason, category and bot decision."""

    kind: str
    service: str | None
    reason: str | None
    category: str | None
    outcome: str
    count: int


@dataclass(frozen=True, slots=True)
class ProductRow:
    sku: str
    name: str
    claims: int
    units_sold: int  # in orders placed within the period (0: none sold in it)


@dataclass(frozen=True, slots=True)
class NamedCount:
    name: str
    count: int


@dataclass(frozen=True, slots=True)
class ClockRow:
    """One service clock's timers due in the period: stopped in time, ran out, still running."""

    clock: str
    met: int
    breached: int
    running: int


@dataclass(frozen=True, slots=True)
class RefundRow:
    payment_method: str
    currency: str
    count: int
    amount: Decimal


@dataclass(frozen=True, slots=True)
class AgentRow:
    agent: str  # the agent's display name ("" for a survey of a case no agent had)
    answers: int
    rating_sum: int


@dataclass(frozen=True, slots=True)
class Times:
    """The moments that durations are measured between, of the period's cases handed to a
    person or closed: column by column, one entry per case, in UTC epoch seconds (None: not
    yet). Tens of thousands a month: plain floats in lists, not an object per case."""

    kind: Sequence[str]
    created_at: Sequence[float]
    handed_over_at: Sequence[float | None]
    first_response_at: Sequence[float | None]
    closed_at: Sequence[float | None]


@dataclass(frozen=True, slots=True)
class Dimension:
    """One of T9's dimensions (attitude, speed, result): how many answered, and their sum."""

    name: str
    answers: int
    total: int


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    start: datetime
    end: datetime  # exclusive
    cube: tuple[CubeRow, ...]
    products_by_claims: tuple[ProductRow, ...]
    products_by_rate: tuple[ProductRow, ...]
    rules: tuple[NamedCount, ...]
    times: Times
    clocks: tuple[ClockRow, ...]
    refunds: tuple[RefundRow, ...]
    ratings: tuple[NamedCount, ...]  # "1" .. "5" and how many gave it
    dimensions: tuple[Dimension, ...]
    agents: tuple[AgentRow, ...]
    repeat_claimers: int  # customers with two requests or more in the period
    repeat_claims: int  # the requests those customers made
    reused_evidence_cases: int  # the period's cases with a file also on another case
    reused_evidence_files: int
