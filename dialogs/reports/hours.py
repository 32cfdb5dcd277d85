"""Durations in working hours on the shop's calendar, and their percentiles.

A case handed to a person on Friday at 17:00 and answered on Monday at 10:00 waited two
working hours, not 65 hours: the shop promises its times on its working days and hours
(T6: holidays and rest days extend every time limit), so it is measured the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta

from dialogs.policy.calendar import WorkingCalendar

HOUR = 3600.0
DAY = 86400.0
EPOCH_DAY = date(1970, 1, 1)


class WorkingSeconds:
    """Working seconds elapsed since the start of `origin` (a local date) at any instant (UTC
    epoch seconds) until the end of `last`: a running sum per day, so each instant costs a few
    float operations instead of a walk over the days between two of them (a month's report
    measures some fifty thousand cases)."""

    def __init__(self, calendar: WorkingCalendar, origin: date, last: date) -> None:
        opens, closes = calendar.hours
        self.opens = opens.hour * HOUR + opens.minute * 60.0
        self.length = max(closes.hour * HOUR + closes.minute * 60.0 - self.opens, 0.0)
        self.origin = (origin - EPOCH_DAY).days
        self.before: list[float] = []  # working seconds before each day since origin
        self.working: list[bool] = []
        self.offset: list[
            float
        ] = []  # the zone's UTC offset that day (at noon: DST moves at night)
        total, day = 0.0, origin
        while day <= last:
            works = calendar.is_working_day(day)
            noon = datetime.combine(day, time(12), tzinfo=calendar.tz)
            self.before.append(total)
            self.working.append(works)
            self.offset.append(noon.utcoffset().total_seconds())  # type: ignore[union-attr]
            total += self.length if works else 0.0
            day += timedelta(days=1)

    def at(self, instant: float) -> float:
        guess = min(max(int((instant + self.offset[0]) // DAY) - self.origin, 0),
                    len(self.offset) - 1)  # fmt: skip
        local = instant + self.offset[guess]
        day = int(local // DAY)
        index = day - self.origin
        base = self.before[index]
        if not self.working[index]:
            return base
        return base + min(max(local - day * DAY - self.opens, 0.0), self.length)


def working_hours(calendar: WorkingCalendar, spans: Sequence[tuple[float, float]]
                  ) -> list[float]:  # fmt: skip
    """Each span (UTC epoch seconds) in working hours; a span ending before it starts is 0."""
    if not spans:
        return []
    low = min(min(a, b) for a, b in spans)
    high = max(max(a, b) for a, b in spans)
    first = datetime.fromtimestamp(low, calendar.tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(high, calendar.tz).date() + timedelta(days=1)
    counter = WorkingSeconds(calendar, first, last)
    at = counter.at
    return [max(at(end) - at(start), 0.0) / HOUR for start, end in spans]


def percentile(values: Iterable[float], share: float) -> float | None:
    """The `share` quantile (0..1) with linear interpolation between ranks; None if empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
