"""Durations in working hours on the shop's calendar, and their percentiles.

A case handed to a person on Friday at 17:00 and answered on Monday at 10:00 waited two
working hours, not 65 hours: the shop promises its times on its working days and hours
(T6: holidays and rest days extend every time limit), so it is measured the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta

from dialogs.policy.calendar import WorkingCalendar

HOUR = 3600.0


class WorkingSeconds:
    """Working seconds elapsed since the start of `origin` (local date), at any moment from
    then until `last`: a running sum per day, so each moment costs one lookup instead of a
    walk over the days between two moments."""

    def __init__(self, calendar: WorkingCalendar, origin: date, last: date) -> None:
        self.calendar = calendar
        self.origin = origin
        opens, closes = calendar.hours
        self.opens, self.closes = opens, closes
        length = (
            datetime.combine(origin, closes) - datetime.combine(origin, opens)
        ).total_seconds()
        self.day_length = max(length, 0.0)
        self.before: list[float] = []  # working seconds before each day since origin
        self.working: list[bool] = []
        total, day = 0.0, origin
        while day <= last:
            works = calendar.is_working_day(day)
            self.before.append(total)
            self.working.append(works)
            total += self.day_length if works else 0.0
            day += timedelta(days=1)

    def at(self, moment: datetime) -> float:
        local = self.calendar.local(moment)
        index = (local.date() - self.origin).days
        base = self.before[index]
        if not self.working[index]:
            return base
        opened = datetime.combine(local.date(), self.opens, tzinfo=local.tzinfo)
        within = (local - opened).total_seconds()
        return base + min(max(within, 0.0), self.day_length)


def working_hours(
    calendar: WorkingCalendar, spans: Sequence[tuple[datetime, datetime]]
) -> list[float]:
    """Each span's length in working hours (a span ending before it starts counts 0)."""
    if not spans:
        return []
    days = [calendar.local(m).date() for span in spans for m in span]
    counter = WorkingSeconds(calendar, min(days), max(days))
    return [max(counter.at(end) - counter.at(start), 0.0) / HOUR for start, end in spans]


def percentile(values: Iterable[float], share: float) -> float | None:
    """The `share` quantile (0..1) with linear interpolation between ranks; None if empty."""
    ordered = sorted(values)
    if not ordered:
        return None
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
