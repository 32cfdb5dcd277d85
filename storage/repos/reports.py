"""The report's figures for one period, each grouped by the database.

Every query walks one index range (migration 0010: cases by creation, refund and survey
answer times, orders by placement, timers by kind and due time) and returns at most a few
hundred rows; only the moments that durations are measured between come back per case,
because working hours need the shop's calendar (`dialogs.reports.hours`).

Which moment puts a fact in a period: a case by when it was created (its volume, decision,
times, repeat claims and evidence), a refund by when it was paid, a rating by when it was
given, a service clock by when it was due.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal_column, or_, select, text
from sqlalchemy.orm import aliased

from storage.domain import CaseKind
from storage.models import Agent, Case, Evidence, Order, OrderItem, Survey, Timer
from storage.report_figures import (
    SERVICE_CLOCKS,
    AgentRow,
    ClockRow,
    CubeRow,
    Dimension,
    NamedCount,
    PeriodFigures,
    ProductRow,
    RefundRow,
    Times,
)
from storage.repos.base import Repo

TOP = 10
DIMENSIONS = ("attitude", "speed", "result")


class ReportRepo(Repo):
    async def report_figures(self, start: datetime, end: datetime) -> PeriodFigures:
        """Everything the report counts for [start, end)."""
        return PeriodFigures(
            start=start,
            end=end,
            cube=await self._cube(start, end),
            products_by_claims=await self._products(start, end, by_rate=False),
            products_by_rate=await self._products(start, end, by_rate=True),
            rules=await self._rules(start, end),
            times=await self._times(start, end),
            clocks=await self._clocks(start, end),
            refunds=await self._refunds(start, end),
            ratings=await self._ratings(start, end),
            dimensions=await self._dimensions(start, end),
            agents=await self._agents(start, end),
            **await self._repeats(start, end),
            **await self._reused(start, end),
        )

    # --- cases ------------------------------------------------------------------------------

    @staticmethod
    def _created(start: datetime, end: datetime) -> Any:
        return and_(Case.created_at >= start, Case.created_at < end)

    async def _cube(self, start: datetime, end: datetime) -> tuple[CubeRow, ...]:
        n = func.count()
        stmt = (
            select(Case.kind, Case.service, Case.reason, OrderItem.category, Case.outcome, n)
            .outerjoin(OrderItem, OrderItem.id == Case.item_id)
            .where(self._created(start, end))
            .group_by(Case.kind, Case.service, Case.reason, OrderItem.category, Case.outcome)
        )
        rows = await self.session.execute(stmt)
        return tuple(CubeRow(k, s, r, c, o, int(count)) for k, s, r, c, o, count in rows)

    async def _products(
        self, start: datetime, end: datetime, *, by_rate: bool
    ) -> tuple[ProductRow, ...]:
        """The top products by claims, or by claims per unit sold in the period (products
        with none sold in it have no rate and are left out of that list)."""
        claims = (
            select(
                OrderItem.sku.label("sku"),
                func.max(OrderItem.name).label("name"),
                func.count().label("claims"),
            )
            .join(Case, Case.item_id == OrderItem.id)
            .where(self._created(start, end), Case.kind == CaseKind.REQUEST.value)
            .group_by(OrderItem.sku)
            .subquery()
        )
        sold = (
            select(OrderItem.sku.label("sku"), func.sum(OrderItem.quantity).label("units"))
            .join(Order, Order.id == OrderItem.order_id)
            .where(Order.placed_at >= start, Order.placed_at < end)
            .group_by(OrderItem.sku)
            .subquery()
        )
        units = func.coalesce(sold.c.units, 0)
        stmt = select(claims.c.sku, claims.c.name, claims.c.claims, units)
        if by_rate:
            rate = claims.c.claims * literal_column("1.0") / sold.c.units
            stmt = stmt.join(sold, sold.c.sku == claims.c.sku).order_by(
                rate.desc(), claims.c.claims.desc(), claims.c.sku
            )
        else:
            stmt = stmt.outerjoin(sold, sold.c.sku == claims.c.sku).order_by(
                claims.c.claims.desc(), claims.c.sku
            )
        rows = await self.session.execute(stmt.limit(TOP))
        return tuple(ProductRow(s, n, int(c), int(u)) for s, n, c, u in rows)

    async def _rules(self, start: datetime, end: datetime) -> tuple[NamedCount, ...]:
        """The rules named in the bot's decisions, most often first."""
        if self.session.get_bind().dialect.name == "postgresql":
            elements = "jsonb_array_elements_text(CAST(cases.rules AS jsonb)) AS r(value)"
        else:
            elements = "json_each(cases.rules) AS r"
        stmt = text(
            f"SELECT r.value AS rule, count(*) AS n FROM cases, {elements} "
            "WHERE cases.created_at >= :start AND cases.created_at < :end "
            "AND cases.kind = 'request' GROUP BY r.value ORDER BY n DESC, r.value LIMIT :top"
        ).bindparams(start=self._bind(start), end=self._bind(end), top=TOP)
        rows = await self.session.execute(stmt)
        return tuple(NamedCount(str(rule), int(n)) for rule, n in rows)

    def _bind(self, moment: datetime) -> Any:
        """A moment as UTCDateTime stores it, for the one query written as text."""
        return Case.__table__.c.created_at.type.process_bind_param(
            moment, self.session.get_bind().dialect
        )

    async def _times(self, start: datetime, end: datetime) -> tuple[Times, ...]:
        stmt = select(
            Case.kind, Case.created_at, Case.handed_over_at, Case.first_response_at, Case.closed_at
        ).where(
            self._created(start, end),
            or_(Case.handed_over_at.is_not(None), Case.closed_at.is_not(None)),
        )
        rows = await self.session.execute(stmt)
        return tuple(Times(*row) for row in rows)

    async def _repeats(self, start: datetime, end: datetime) -> dict[str, int]:
        per = (
            select(Case.customer_id, func.count().label("n"))
            .where(self._created(start, end), Case.kind == CaseKind.REQUEST.value)
            .group_by(Case.customer_id)
            .having(func.count() >= 2)
            .subquery()
        )
        row = (await self.session.execute(select(func.count(), func.sum(per.c.n)))).one()
        return {"repeat_claimers": int(row[0] or 0), "repeat_claims": int(row[1] or 0)}

    async def _reused(self, start: datetime, end: datetime) -> dict[str, int]:
        other = aliased(Evidence)
        elsewhere = (
            select(other.id)
            .where(
                other.file_unique_id == Evidence.file_unique_id, other.case_id != Evidence.case_id
            )
            .exists()
        )
        stmt = (
            select(
                func.count(Evidence.case_id.distinct()),
                func.count(Evidence.file_unique_id.distinct()),
            )
            .join(Case, Case.id == Evidence.case_id)
            .where(self._created(start, end), elsewhere)
        )
        cases, files = (await self.session.execute(stmt)).one()
        return {"reused_evidence_cases": int(cases or 0), "reused_evidence_files": int(files or 0)}

    # --- clocks, refunds, ratings -------------------------------------------------------------

    async def _clocks(self, start: datetime, end: datetime) -> tuple[ClockRow, ...]:
        in_time = and_(Timer.cancelled_at.is_not(None), Timer.cancelled_at <= Timer.due_at)
        late = or_(Timer.fired_at.is_not(None), Timer.cancelled_at > Timer.due_at)
        stmt = (
            select(
                Timer.kind,
                func.sum(case((in_time, 1), else_=0)),
                func.sum(case((late, 1), else_=0)),
                func.count(),
            )
            .where(Timer.kind.in_(SERVICE_CLOCKS), Timer.due_at >= start, Timer.due_at < end)
            .group_by(Timer.kind)
        )
        rows = await self.session.execute(stmt)
        return tuple(
            ClockRow(
                kind,
                int(met or 0),
                int(breached or 0),
                int(total) - int(met or 0) - int(breached or 0),
            )
            for kind, met, breached, total in rows
        )

    async def _refunds(self, start: datetime, end: datetime) -> tuple[RefundRow, ...]:
        stmt = (
            select(
                Order.payment_method,
                Order.currency,
                func.count(),
                func.coalesce(func.sum(Case.refund_amount), 0),
            )
            .join(Order, Order.id == Case.order_id)
            .where(Case.refunded_at >= start, Case.refunded_at < end)
            .group_by(Order.payment_method, Order.currency)
            .order_by(Order.payment_method, Order.currency)
        )
        rows = await self.session.execute(stmt)
        return tuple(RefundRow(m, c, int(n), Decimal(str(a))) for m, c, n, a in rows)

    @staticmethod
    def _answered(start: datetime, end: datetime) -> Any:
        return and_(
            Survey.answered_at >= start, Survey.answered_at < end, Survey.rating.is_not(None)
        )

    async def _ratings(self, start: datetime, end: datetime) -> tuple[NamedCount, ...]:
        stmt = (
            select(Survey.rating, func.count())
            .where(self._answered(start, end))
            .group_by(Survey.rating)
            .order_by(Survey.rating)
        )
        rows = await self.session.execute(stmt)
        return tuple(NamedCount(str(r), int(n)) for r, n in rows)

    async def _dimensions(self, start: datetime, end: datetime) -> tuple[Dimension, ...]:
        columns = [getattr(Survey, name) for name in DIMENSIONS]
        parts = [f(c) for c in columns for f in (func.count, func.sum)]
        row = (await self.session.execute(select(*parts).where(self._answered(start, end)))).one()
        return tuple(
            Dimension(name, int(row[2 * i] or 0), int(row[2 * i + 1] or 0))
            for i, name in enumerate(DIMENSIONS)
        )

    async def _agents(self, start: datetime, end: datetime) -> tuple[AgentRow, ...]:
        stmt = (
            select(func.coalesce(Agent.name, ""), func.count(), func.sum(Survey.rating))
            .outerjoin(Agent, Agent.id == Survey.agent_id)
            .where(self._answered(start, end))
            .group_by(Survey.agent_id, Agent.name)
            .order_by(func.count().desc(), func.coalesce(Agent.name, ""))
        )
        rows = await self.session.execute(stmt)
        return tuple(AgentRow(name, int(n), int(total or 0)) for name, n, total in rows)
