"""A period's figures shaped for reading: totals per dimension, shares, working-hour
percentiles, and each key figure beside the period before it. Pure: numbers in, numbers out.

A period with no cases has no shares and no percentiles (None), never a division by zero.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from dialogs.policy.calendar import WorkingCalendar
from storage.domain import CaseKind, Category, Outcome, Reason, Service
from storage.report_figures import (
    SERVICE_CLOCKS,
    AgentRow,
    ClockRow,
    NamedCount,
    PeriodFigures,
    ProductRow,
)

from .hours import percentiles, working_hours

OUTCOMES = tuple(o.value for o in Outcome)
RATINGS = ("1", "2", "3", "4", "5")
UP, DOWN, SAME = "↑", "↓", "→"


@dataclass(frozen=True, slots=True)
class Period:
    """Local dates, both included, in the shop's time zone."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


@dataclass(frozen=True, slots=True)
class Line:
    """One name of a dimension (a service, a reason, ...): this period's count, the one's
    before, and its share of this period's total."""

    name: str
    count: int
    previous: int
    share: float | None


@dataclass(frozen=True, slots=True)
class Change:
    value: float | None
    previous: float | None

    @property
    def arrow(self) -> str:
        if self.value is None or self.previous is None or self.value == self.previous:
            return SAME
        return UP if self.value > self.previous else DOWN

    @property
    def percent(self) -> float | None:
        """The change in per cent of the period before; None where it had nothing to compare."""
        if self.value is None or self.previous is None or self.previous == 0:
            return None
        return (self.value - self.previous) / abs(self.previous) * 100


@dataclass(frozen=True, slots=True)
class Durations:
    count: int
    p50: float | None  # working hours
    p90: float | None


@dataclass(frozen=True, slots=True)
class Clock:
    name: str
    met: int
    breached: int
    running: int

    @property
    def share_met(self) -> float | None:
        done = self.met + self.breached
        return self.met / done if done else None


@dataclass(frozen=True, slots=True)
class Agent:
    name: str
    answers: int
    average: float


@dataclass(frozen=True, slots=True)
class Report:
    period: Period
    previous_period: Period
    requests: int
    questions: int
    by_service: tuple[Line, ...]
    by_reason: tuple[Line, ...]
    by_category: tuple[Line, ...]
    decisions: tuple[Line, ...]
    products_by_claims: tuple[ProductRow, ...]
    products_by_rate: tuple[ProductRow, ...]
    rules: tuple[NamedCount, ...]
    first_response: Durations
    waiting_first_response: int  # handed to a person, nobody answered yet
    resolution: Durations
    clocks: tuple[Clock, ...]
    refunds: tuple[tuple[str, str, int, Decimal], ...]  # method, currency, count, amount
    refund_count: int
    refund_amounts: tuple[tuple[str, Decimal], ...]  # per currency
    ratings: tuple[Line, ...]  # 1..5, every one listed
    csat: float | None
    csat_answers: int
    dimensions: tuple[tuple[str, float | None], ...]  # attitude, speed, result
    agents: tuple[Agent, ...]
    repeat_claimers: int
    repeat_claims: int
    reused_evidence_cases: int
    reused_evidence_files: int
    key: tuple[tuple[str, Change], ...]  # the figures compared with the period before

    @property
    def empty(self) -> bool:
        return self.requests == 0 and self.questions == 0

    def change(self, name: str) -> Change:
        return dict(self.key)[name]


def shape(
    now: PeriodFigures,
    before: PeriodFigures,
    period: Period,
    previous: Period,
    calendar: WorkingCalendar,
) -> Report:
    """The report of `now`, compared with `before` (the period just before it)."""
    this, prev = _Summary(now, calendar), _Summary(before, calendar)
    requests = this.requests
    key = (
        ("requests", Change(requests, prev.requests)),
        *((f"{o}_share", Change(this.share(o), prev.share(o))) for o in OUTCOMES),
        ("first_response_p50", Change(this.first.p50, prev.first.p50)),
        ("first_response_p90", Change(this.first.p90, prev.first.p90)),
        ("resolution_p50", Change(this.resolved.p50, prev.resolved.p50)),
        ("resolution_p90", Change(this.resolved.p90, prev.resolved.p90)),
        ("clocks_met_share", Change(this.clocks_met, prev.clocks_met)),
        ("refunds", Change(this.refund_count, prev.refund_count)),
        ("csat", Change(this.csat, prev.csat)),
        ("repeat_claimers", Change(now.repeat_claimers, before.repeat_claimers)),
        ("reused_evidence_cases", Change(now.reused_evidence_cases, before.reused_evidence_cases)),
    )
    return Report(
        period=period,
        previous_period=previous,
        requests=requests,
        questions=this.questions,
        by_service=_lines([s.value for s in Service], this.service, prev.service, requests),
        by_reason=_lines([r.value for r in Reason], this.reason, prev.reason, requests),
        by_category=_lines([c.value for c in Category], this.category, prev.category, requests),
        decisions=_lines(list(OUTCOMES), this.outcome, prev.outcome, requests, keep_zero=True),
        products_by_claims=now.products_by_claims,
        products_by_rate=now.products_by_rate,
        rules=now.rules,
        first_response=this.first,
        waiting_first_response=this.waiting,
        resolution=this.resolved,
        clocks=tuple(Clock(c.clock, c.met, c.breached, c.running) for c in _ordered(now.clocks)),
        refunds=tuple((r.payment_method, r.currency, r.count, r.amount) for r in now.refunds),
        refund_count=this.refund_count,
        refund_amounts=_per_currency(now),
        ratings=_lines(
            list(RATINGS), this.ratings, prev.ratings, this.csat_answers, keep_zero=True
        ),
        csat=this.csat,
        csat_answers=this.csat_answers,
        dimensions=tuple(
            (d.name, d.total / d.answers if d.answers else None) for d in now.dimensions
        ),
        agents=tuple(_agent(a) for a in now.agents),
        repeat_claimers=now.repeat_claimers,
        repeat_claims=now.repeat_claims,
        reused_evidence_cases=now.reused_evidence_cases,
        reused_evidence_files=now.reused_evidence_files,
        key=key,
    )


class _Summary:
    """The totals of one period that both the report and its comparison need."""

    def __init__(self, figures: PeriodFigures, calendar: WorkingCalendar) -> None:
        requests = [r for r in figures.cube if r.kind == CaseKind.REQUEST.value]
        self.requests = sum(r.count for r in requests)
        self.questions = sum(r.count for r in figures.cube if r.kind != CaseKind.REQUEST.value)
        self.service = _count((r.service, r.count) for r in requests)
        self.reason = _count((r.reason, r.count) for r in requests)
        self.category = _count((r.category, r.count) for r in requests)
        self.outcome = _count((r.outcome, r.count) for r in requests)
        times = figures.times
        answered: list[tuple[float, float]] = []
        waiting = 0
        for handed, first in zip(times.handed_over_at, times.first_response_at, strict=True):
            if handed is not None:
                if first is not None:
                    answered.append((handed, first))
                else:
                    waiting += 1
        self.waiting = waiting
        request = CaseKind.REQUEST.value
        resolved = [
            (created, closed)
            for kind, created, closed in zip(
                times.kind, times.created_at, times.closed_at, strict=True
            )
            if kind == request and closed is not None
        ]
        self.first = _durations(calendar, answered)
        self.resolved = _durations(calendar, resolved)
        met = sum(c.met for c in figures.clocks)
        done = met + sum(c.breached for c in figures.clocks)
        self.clocks_met = met / done if done else None
        self.refund_count = sum(r.count for r in figures.refunds)
        self.ratings = _count((r.name, r.count) for r in figures.ratings)
        self.csat_answers = sum(self.ratings.values())
        total = sum(int(name) * n for name, n in self.ratings.items())
        self.csat = total / self.csat_answers if self.csat_answers else None

    def share(self, outcome: str) -> float | None:
        return self.outcome.get(outcome, 0) / self.requests if self.requests else None


def _count(pairs: Iterable[tuple[str | None, int]]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for name, n in pairs:
        if name is not None:
            counts[name] += n
    return counts


def _lines(
    names: list[str],
    now: Counter[str],
    before: Counter[str],
    total: int,
    *,
    keep_zero: bool = False,
) -> tuple[Line, ...]:
    """Every name of the dimension that either period has (all of them with `keep_zero`),
    most frequent first; a name the domain does not list comes last rather than lost."""
    known = names + sorted((set(now) | set(before)) - set(names))
    lines = [
        Line(n, now.get(n, 0), before.get(n, 0), now.get(n, 0) / total if total else None)
        for n in known
        if keep_zero or now.get(n, 0) or before.get(n, 0)
    ]
    if keep_zero:
        return tuple(lines)
    return tuple(sorted(lines, key=lambda line: (-line.count, -line.previous)))


def _durations(calendar: WorkingCalendar, spans: list[tuple[float, float]]) -> Durations:
    hours = working_hours(calendar, spans)
    p50, p90 = percentiles(hours, (0.5, 0.9))
    return Durations(len(hours), p50, p90)


def _ordered(clocks: tuple[ClockRow, ...]) -> list[ClockRow]:
    rank = {name: i for i, name in enumerate(SERVICE_CLOCKS)}
    return sorted(clocks, key=lambda c: (rank.get(c.clock, len(rank)), c.clock))


def _per_currency(figures: PeriodFigures) -> tuple[tuple[str, Decimal], ...]:
    amounts: dict[str, Decimal] = {}
    for row in figures.refunds:
        amounts[row.currency] = amounts.get(row.currency, Decimal(0)) + row.amount
    return tuple(sorted(amounts.items()))


def _agent(row: AgentRow) -> Agent:
    return Agent(row.agent, row.answers, row.rating_sum / row.answers if row.answers else 0.0)
