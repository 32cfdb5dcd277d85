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
        # The zone's UTC offset each day (at noon: DST moves at night).
        self.offset: list[float] = []
        total, day = 0.0, origin
        while day <= last:
            works = calendar.is_working_day(day)
            noon = datetime.combine(day, time(12), tzinfo=calendar.tz)
            self.before.append(total)
            self.working.append(works)
            self.offset.append(noon.utcoffset().total_seconds())  # type: ignore[union-attr]
            total += self.length if works else 0.0
            day += timedelta(days=1)
        # Per day: where its local midnight is in epoch seconds, and how long it works (0 on a
        # day off, whose instants all count `before`, as the clamp to 0 gives).
        self._midnight = [(self.origin + i) * DAY for i in range(len(self.offset))]
        self._open = [self.length if w else 0.0 for w in self.working]

    def at(self, instant: float) -> float:
        return self.many([instant])[0]

    def many(self, instants: Sequence[float]) -> list[float]:
        """`at` of each instant, in one loop of local names (a month measures ~100,000)."""
        first, origin, last = self.offset[0], self.origin, len(self.offset) - 1
        offset, before, midnight, length = self.offset, self.before, self._midnight, self._open
        opens = self.opens
        out = []
        append = out.append
        for instant in instants:
            guess = int((instant + first) // DAY) - origin
            guess = 0 if guess < 0 else last if guess > last else guess
            local = instant + offset[guess]
            index = int(local // DAY) - origin
            within = local - midnight[index] - opens
            works = length[index]
            append(before[index] + (0.0 if within < 0.0 else works if within > works else within))
        return out


def working_hours(calendar: WorkingCalendar, spans: Sequence[tuple[float, float]]
                  ) -> list[float]:  # fmt: skip
    """Each span (UTC epoch seconds) in working hours; a span ending before it starts is 0."""
    if not spans:
        return []
    starts = [start for start, _ in spans]
    ends = [end for _, end in spans]
    low, high = min(min(starts), min(ends)), max(max(starts), max(ends))
    first = datetime.fromtimestamp(low, calendar.tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(high, calendar.tz).date() + timedelta(days=1)
    counter = WorkingSeconds(calendar, first, last)
    return [(e - s) / HOUR if e > s else 0.0
            for s, e in zip(counter.many(starts), counter.many(ends), strict=True)]  # fmt: skip


def percentile(values: Iterable[float], share: float) -> float | None:
    """The `share` quantile (0..1) with linear interpolation between ranks; None if empty."""
    return percentiles(values, (share,))[0]


def percentiles(values: Iterable[float], shares: Sequence[float]) -> list[float | None]:
    """`percentile` of each share, the values sorted once (a month has ~50,000)."""
    ordered = sorted(values)
    if not ordered:
        return [None for _ in shares]
    out: list[float | None] = []
    for share in shares:
        position = (len(ordered) - 1) * share
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        out.append(ordered[low] + (ordered[high] - ordered[low]) * (position - low))
    return out
