"""What the after-sales desk learns from its cases (T6, T11, T17): a period's report, shaped
from the figures the database grouped, compared with the period before it."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from dialogs.policy.calendar import WorkingCalendar
from storage.report_figures import PeriodFigures

from .figures import Period, Report, shape
from .period import bounds, previous


class FiguresSource(Protocol):
    async def report_figures(self, start: datetime, end: datetime) -> PeriodFigures: ...


async def build_report(
    source: FiguresSource, period: Period, timezone: str, calendar: WorkingCalendar
) -> Report:
    """The report of `period` (local dates in `timezone`) beside the period before it."""
    before = previous(period)
    now = await source.report_figures(*bounds(period, timezone))
    then = await source.report_figures(*bounds(before, timezone))
    return shape(now, then, period, before, calendar)


__all__ = ["FiguresSource", "Period", "Report", "build_report"]
