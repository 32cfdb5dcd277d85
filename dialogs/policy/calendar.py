"""Working days in the shop's time zone, and time limits counted in hours, days or working days.

Mainland China moves rest days around every year (调休): the State Council publishes which
weekend days become working days and which weekdays become holidays. The `holidays` package
knows those schedules only for the years already published; for a later year we still count
weekends and the statutory holidays it can compute, but we say so instead of pretending: once
per process and year, when a working-day count actually reaches such a year (a profile loaded
for years ahead is no news; a deadline counted on guessed rest days is).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import holidays

log = logging.getLogger(__name__)

UNITS = ("hours", "days", "working_days", "working_hours")
DEFAULT_HOURS = (time(9, 0), time(18, 0))
# A window counted in (working) days ends at the last instant of its last day, local time.
END_OF_DAY = time(23, 59, 59, 999000)
# Guards the working-day walk against a calendar that (by misconfiguration) has no working days.
_MAX_SCAN_DAYS = 3660
# (country, year) gaps already logged: the bot counts working days on every step of every
# conversation, and the operator needs to hear about a year once, not per customer.
_logged_gaps: set[tuple[str, int]] = set()
# Set by `collecting_schedule_gaps`: a caller that reports the gaps itself, with its answer.
_gap_sink: ContextVar[set[tuple[str, int]] | None] = ContextVar("schedule_gaps", default=None)


@dataclass(frozen=True)
class YearTable:
    holidays: frozenset[date]
    working_weekends: frozenset[date]
    weekend: frozenset[int]
    official: bool


@cache
def official_years(country: str) -> frozenset[int]:
    """Years for which the holiday schedule is the published one rather than computed rules."""
    if country != "CN":
        # Other countries' calendars follow fixed rules the package computes for any year.
        return frozenset(range(1900, 2200))
    from holidays.countries.china import ChinaStaticHolidays

    return frozenset(ChinaStaticHolidays.special_public_holidays)


@cache
def year_table(country: str, year: int) -> YearTable:
    """Holidays and make-up working days of one year (built once per process and year)."""
    # Make-up working days of year Y can be announced with year Y+1's schedule (New Year).
    tables = [holidays.country_holidays(country, years=y) for y in (year, year + 1)]
    this = tables[0]
    working = {d for t in tables for d in getattr(t, "weekend_workdays", ()) if d.year == year}
    return YearTable(
        holidays=frozenset(d for d in this if d.year == year),
        working_weekends=frozenset(working),
        weekend=frozenset(getattr(this, "weekend", (5, 6))),
        official=year in official_years(country),
    )


def schedule_gap_message(country: str, year: int) -> str:
    """What to tell a merchant about a year whose official schedule is not known yet."""
    return (
        f"no official {country} holiday schedule for {year}; working days that year count "
        "weekends and statutory holidays only (add make-up days to calendar.extra_holidays / "
        "extra_working_days)"
    )


@contextmanager
def collecting_schedule_gaps() -> Iterator[set[tuple[str, int]]]:
    """Within the block, the (country, year) gaps that working-day counts reach are collected
    instead of logged: for a caller that reports them with its own answer (`policy check`),
    where a log line as well would say the same thing twice."""
    gaps: set[tuple[str, int]] = set()
    token = _gap_sink.set(gaps)
    try:
        yield gaps
    finally:
        _gap_sink.reset(token)


def _reached_gap(country: str, year: int) -> None:
    sink = _gap_sink.get()
    if sink is not None:
        sink.add((country, year))
        return
    if (country, year) in _logged_gaps:
        return
    _logged_gaps.add((country, year))
    log.warning("calendar: %s", schedule_gap_message(country, year))


class WorkingCalendar:
    """Which local dates are working days, and where a time limit ends."""

    def __init__(
        self,
        timezone: str,
        extra_holidays: Iterable[date] = (),
        extra_working_days: Iterable[date] = (),
        country: str = "CN",
        hours: tuple[time, time] = DEFAULT_HOURS,
    ) -> None:
        self.timezone = timezone
        self.hours = hours
        self.tz = ZoneInfo(timezone)
        self.country = country
        self.extra_holidays = frozenset(extra_holidays)
        self.extra_working_days = frozenset(extra_working_days)
        self._days: dict[date, bool] = {}

    def has_official_schedule(self, year: int) -> bool:
        return year in official_years(self.country)

    def is_working_day(self, d: date) -> bool:
        # The shop's own days are known whatever the official schedule says.
        if d in self.extra_working_days:
            return True
        if d in self.extra_holidays:
            return False
        if d.year not in official_years(self.country):
            # Before the cache: a caller collecting the gaps of one decision must hear about
            # the days it counts even when an earlier count already looked them up.
            _reached_gap(self.country, d.year)
        cached = self._days.get(d)
        if cached is not None:
            return cached
        table = year_table(self.country, d.year)
        if d in table.working_weekends:
            result = True
        else:
            result = d.weekday() not in table.weekend and d not in table.holidays
        self._days[d] = result
        return result

    def local(self, moment: datetime) -> datetime:
        """The instant in the calendar's time zone (a naive time is taken as local already)."""
        if moment.tzinfo is None:
            return moment.replace(tzinfo=self.tz)
        return moment.astimezone(self.tz)

    def add(self, start: datetime, length: int, unit: str) -> datetime:
        """End of a time limit of `length` `unit`s starting at `start`.

        hours: exact. working_hours: only the shop's hours of working days count.
        days / working_days: the last instant of the N-th (working) day after the
        start's local date; the start day itself is not counted ("7天内" as shops count it).
        """
        local = self.local(start)
        if unit == "hours":
            return local + timedelta(hours=length)
        if unit == "working_hours":
            return self._add_working_hours(local, timedelta(hours=length))
        if unit == "days":
            end = local.date() + timedelta(days=length)
        elif unit == "working_days":
            end = self._nth_working_day_after(local.date(), length)
        else:
            raise ValueError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
        return datetime.combine(end, END_OF_DAY, tzinfo=self.tz)

    def _add_working_hours(self, local: datetime, left: timedelta) -> datetime:
        """`left` of working time from `local`: only the shop's hours of working days count,
        so a question at 20:00 on Friday with 4 working hours is answered by Monday 13:00."""
        opens, closes = self.hours
        day, moment = local.date(), local
        for _ in range(_MAX_SCAN_DAYS):
            if self.is_working_day(day):
                start = max(moment, datetime.combine(day, opens, tzinfo=self.tz))
                end = datetime.combine(day, closes, tzinfo=self.tz)
                if start < end:
                    if start + left <= end:
                        return start + left
                    left -= end - start
            day += timedelta(days=1)
            moment = datetime.combine(day, opens, tzinfo=self.tz)
        raise ValueError("calendar has no working hours within ten years")

    def _nth_working_day_after(self, day: date, n: int) -> date:
        found = 0
        for _ in range(_MAX_SCAN_DAYS):
            if found >= n:
                return day
            day += timedelta(days=1)
            if self.is_working_day(day):
                found += 1
        if found >= n:
            return day
        raise ValueError("calendar has no working days within ten years")

    def missing_schedules(self, years: Iterable[int]) -> list[int]:
        return [y for y in years if not self.has_official_schedule(y)]
