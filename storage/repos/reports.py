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

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database
from storage.domain import CaseKind
from storage.models import Agent, Case, Survey, Timer
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
from storage.repos import report_sql
from storage.repos.base import Repo

TOP = 10
DIMENSIONS = ("attitude", "speed", "result")


# The statements of one period in groups of about equal cost (bench/report_bench.py at a
# million cases); with more sessions, on PostgreSQL, each group runs on its own connection at
# the same time (the server works on each on a core of its own).
GROUPS = (
    ("_volume",),
    ("_reused", "_refunds", "_repeats", "_ratings", "_dimensions", "_agents"),
    ("_times", "_rules", "_clocks"),
)

Reads = Callable[[], AbstractAsyncContextManager[AsyncSession]]


class ReportRepo(Repo):
    def __init__(self, session: AsyncSession, reads: Reads | None = None) -> None:
        super().__init__(session)
        # More read-only sessions (`Database.read`), for the groups after the first; without
        # them (or on SQLite, whose statements run on the event loop's thread) one by one.
        self.reads = reads

    @classmethod
    @asynccontextmanager
    async def reading(cls, db: Database) -> AsyncIterator[ReportRepo]:
        """A repo of its own sessions (`aftersales report`, bench/report_bench.py): several, so
        that PostgreSQL counts on several connections at once, each in a transaction, which
        the statements' `SET LOCAL jit = off` lasts for."""
        reads = functools.partial(db.read, transaction=True)
        async with reads() as session:
            yield cls(session, reads)

    async def report_figures(self, start: datetime, end: datetime) -> PeriodFigures:
        """Everything the report counts for [start, end)."""
        if self.reads is None or self._dialect != "postgresql":
            parts = [await self._group(sum(GROUPS, ()), start, end)]
        else:
            parts = await asyncio.gather(
                self._group(GROUPS[0], start, end),
                *(self._elsewhere(group, start, end) for group in GROUPS[1:]),
            )
        return PeriodFigures(start=start, end=end, **{k: v for p in parts for k, v in p.items()})

    async def _elsewhere(self, group: tuple[str, ...], start: datetime, end: datetime
                         ) -> dict[str, Any]:  # fmt: skip
        assert self.reads is not None
        async with self.reads() as session:
            return await ReportRepo(session)._group(group, start, end)

    async def _group(self, group: tuple[str, ...], start: datetime, end: datetime
                     ) -> dict[str, Any]:  # fmt: skip
        """The figures of `group`'s statements, by PeriodFigures' field names."""
        if self._dialect == "postgresql":
            # These statements' cost estimates pass jit_above_cost, and compiling them took
            # longer than running them (5 of 6 s at a million cases: bench/report_bench.py).
            await self.session.execute(text("SET LOCAL jit = off"))
        out: dict[str, Any] = {}
        for name in group:
            out.update(await getattr(self, name)(start, end))
        return out

    # --- cases ------------------------------------------------------------------------------

    @staticmethod
    def _created(start: datetime, end: datetime) -> Any:
        return and_(Case.created_at >= start, Case.created_at < end)

    async def _volume(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The cube of the period's cases; the top products by claims, and by claims per unit
        sold in the period (products with none sold in it have no rate and are left out of
        that list)."""
        sql = report_sql.volume(self._dialect, TOP)
        rows = [tuple(r) for r in await self._sql(sql, start, end)]
        cube = tuple(CubeRow(*r[1:6], int(r[6])) for r in rows if r[0] == "cube")
        products = [r[6:] for r in rows if r[0] == "product"]  # claims, sku, name, units, ranks
        by_claims = sorted((r for r in products if r[4] <= TOP), key=lambda r: r[4])
        by_rate = sorted(
            (r for r in products if r[5] is not None and r[5] <= TOP), key=lambda r: r[5]
        )

        def named(ranked: list[tuple[Any, ...]]) -> tuple[ProductRow, ...]:
            return tuple(ProductRow(r[1], r[2], int(r[0]), int(r[3])) for r in ranked)

        return {"cube": cube, "products_by_claims": named(by_claims),
                "products_by_rate": named(by_rate)}  # fmt: skip

    @property
    def _dialect(self) -> str:
        return self.session.get_bind().dialect.name

    async def _sql(self, sql: str, start: datetime, end: datetime) -> Any:
        """A statement of `report_sql` for [start, end)."""
        stmt = text(sql).bindparams(start=self._bind(start), end=self._bind(end))
        return await self.session.execute(stmt)

    async def _rules(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The rules named in the bot's decisions, most often first."""
        if self._dialect == "postgresql":
            elements = "jsonb_array_elements_text(CAST(cases.rules AS jsonb)) AS r(value)"
        else:
            elements = "json_each(cases.rules) AS r"
        stmt = text(
            f"SELECT r.value AS rule, count(*) AS n FROM cases, {elements} "
            "WHERE cases.created_at >= :start AND cases.created_at < :end "
            "AND cases.kind = 'request' GROUP BY r.value ORDER BY n DESC, r.value LIMIT :top"
        ).bindparams(start=self._bind(start), end=self._bind(end), top=TOP)
        rows = await self.session.execute(stmt)
        return {"rules": tuple(NamedCount(str(rule), int(n)) for rule, n in rows)}

    def _bind(self, moment: datetime) -> Any:
        """A moment as UTCDateTime stores it, for the one query written as text."""
        return Case.__table__.c.created_at.type.process_bind_param(
            moment, self.session.get_bind().dialect
        )

    async def _times(self, start: datetime, end: datetime) -> dict[str, Any]:
        result = await self._sql(report_sql.times(self._dialect), start, end)
        if self._dialect == "postgresql":  # one row of arrays (what asyncpg decodes fastest)
            columns = [list(c or ()) for c in result.one()]
        else:
            columns = [list(c) for c in zip(*result.all(), strict=True)] or [[] for _ in range(5)]
        return {"times": Times(*columns)}

    async def _repeats(self, start: datetime, end: datetime) -> dict[str, Any]:
        per = (
            select(Case.customer_id, func.count().label("n"))
            .where(self._created(start, end), Case.kind == CaseKind.REQUEST.value)
            .group_by(Case.customer_id)
            .having(func.count() >= 2)
            .subquery()
        )
        row = (await self.session.execute(select(func.count(), func.sum(per.c.n)))).one()
        return {"repeat_claimers": int(row[0] or 0), "repeat_claims": int(row[1] or 0)}

    async def _reused(self, start: datetime, end: datetime) -> dict[str, Any]:
        sql = report_sql.reused(self._dialect)
        cases, files = (await self._sql(sql, start, end)).one()
        return {"reused_evidence_cases": int(cases or 0), "reused_evidence_files": int(files or 0)}

    # --- clocks, refunds, ratings -------------------------------------------------------------

    async def _clocks(self, start: datetime, end: datetime) -> dict[str, Any]:
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
        return {"clocks": tuple(
            ClockRow(kind, int(met or 0), int(breached or 0),
                     int(total) - int(met or 0) - int(breached or 0))
            for kind, met, breached, total in rows
        )}  # fmt: skip

    async def _refunds(self, start: datetime, end: datetime) -> dict[str, Any]:
        rows = await self._sql(report_sql.refunds(self._dialect), start, end)
        return {"refunds": tuple(RefundRow(m, c, int(n), Decimal(str(a))) for m, c, n, a in rows)}

    @staticmethod
    def _answered(start: datetime, end: datetime) -> Any:
        return and_(
            Survey.answered_at >= start, Survey.answered_at < end, Survey.rating.is_not(None)
        )

    async def _ratings(self, start: datetime, end: datetime) -> dict[str, Any]:
        stmt = (
            select(Survey.rating, func.count())
            .where(self._answered(start, end))
            .group_by(Survey.rating)
            .order_by(Survey.rating)
        )
        rows = await self.session.execute(stmt)
        return {"ratings": tuple(NamedCount(str(r), int(n)) for r, n in rows)}

    async def _dimensions(self, start: datetime, end: datetime) -> dict[str, Any]:
        columns = [getattr(Survey, name) for name in DIMENSIONS]
        parts = [f(c) for c in columns for f in (func.count, func.sum)]
        row = (await self.session.execute(select(*parts).where(self._answered(start, end)))).one()
        return {"dimensions": tuple(
            Dimension(name, int(row[2 * i] or 0), int(row[2 * i + 1] or 0))
            for i, name in enumerate(DIMENSIONS)
        )}  # fmt: skip

    async def _agents(self, start: datetime, end: datetime) -> dict[str, Any]:
        stmt = (
            select(func.coalesce(Agent.name, ""), func.count(), func.sum(Survey.rating))
            .outerjoin(Agent, Agent.id == Survey.agent_id)
            .where(self._answered(start, end))
            .group_by(Survey.agent_id, Agent.name)
            .order_by(func.count().desc(), func.coalesce(Agent.name, ""))
        )
        rows = await self.session.execute(stmt)
        return {"agents": tuple(AgentRow(name, int(n), int(total or 0)) for name, n, total in rows)}
