"""The generated history (`aftersales demo-data --cases N`): the rows a report needs, stored
as the models store them, so the bot's own queries read them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from dialogs.policy.calendar import WorkingCalendar
from dialogs.reports import Period, build_report
from storage.db import Database
from storage.history import load_history
from storage.models import Case, Order, Survey, Timer
from storage.repos.reports import ReportRepo

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
TZ = "Asia/Shanghai"


async def _count(db: Database, model: type) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_history_of_n_cases_is_read_by_the_report(db: Database) -> None:
    report = await load_history(db, 600, NOW)
    assert (report.cases, report.orders) == (600, 1200)
    assert await _count(db, Case) == 600 and await _count(db, Order) == 1200
    assert await _count(db, Timer) > 100 and await _count(db, Survey) > 50
    async with db.read() as s:
        first, last = (await s.execute(select(func.min(Case.created_at),
                                              func.max(Case.created_at)))).one()  # fmt: skip
        ordinal = await s.scalar(select(Case).where(Case.refund_amount.is_not(None)).limit(1))
        assert ordinal is not None and ordinal.refunded_at >= ordinal.created_at
    assert NOW.year - 2 <= first.year and last <= NOW  # two years up to now, none after
    async with db.read() as s:
        year = await build_report(ReportRepo(s), Period(date(2026, 1, 1), date(2026, 11, 30)),
                                  TZ, WorkingCalendar(TZ))  # fmt: skip
    assert year.requests > 100 and year.csat is not None and year.clocks
    assert sum(line.count for line in year.decisions) == year.requests


async def test_a_second_history_adds_to_the_first(db: Database) -> None:
    await load_history(db, 50, NOW)
    await load_history(db, 50, NOW, seed=2)
    assert await _count(db, Case) == 100
