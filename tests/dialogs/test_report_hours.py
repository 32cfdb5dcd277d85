"""Working hours of many spans, counted faster, give exactly what the walk per instant gave
(the report's figures may not move by a rounding)."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import pytest

from dialogs.policy.calendar import WorkingCalendar
from dialogs.reports.hours import DAY, EPOCH_DAY, HOUR, percentile, percentiles, working_hours


def reference_hours(calendar: WorkingCalendar, spans: list[tuple[float, float]]) -> list[float]:
    """The counting of commit 4460345, kept here as it was: the figures it gave are the ones
    to keep."""
    if not spans:
        return []
    low = min(min(a, b) for a, b in spans)
    high = max(max(a, b) for a, b in spans)
    origin = datetime.fromtimestamp(low, calendar.tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(high, calendar.tz).date() + timedelta(days=1)
    opens_at, closes_at = calendar.hours
    opens = opens_at.hour * HOUR + opens_at.minute * 60.0
    length = max(closes_at.hour * HOUR + closes_at.minute * 60.0 - opens, 0.0)
    before, working, offset = [], [], []
    total, day = 0.0, origin
    while day <= last:
        works = calendar.is_working_day(day)
        noon = datetime.combine(day, time(12), tzinfo=calendar.tz)
        before.append(total)
        working.append(works)
        offset.append(noon.utcoffset().total_seconds())
        total += length if works else 0.0
        day += timedelta(days=1)
    first_day = (origin - EPOCH_DAY).days

    def at(instant: float) -> float:
        guess = min(max(int((instant + offset[0]) // DAY) - first_day, 0), len(offset) - 1)
        local = instant + offset[guess]
        day = int(local // DAY)
        index = day - first_day
        if not working[index]:
            return before[index]
        within = min(max(local - day * DAY - opens, 0.0), length)
        return before[index] + within

    out = []
    for start, end in spans:
        s, e = at(start), at(end)
        out.append((e - s) / HOUR if e > s else 0.0)
    return out


def spans(rng: random.Random, first: date, count: int) -> list[tuple[float, float]]:
    base = datetime.combine(first, time(0)).timestamp()
    out = []
    for _ in range(count):
        start = base + rng.uniform(0, 60 * DAY)
        if rng.random() < 0.1:  # on the hour, on the minute: the clamps' edges
            start = start // HOUR * HOUR
        length = rng.choice(
            (0.0, -HOUR, rng.lognormvariate(1, 1) * HOUR, rng.uniform(1, 300) * HOUR)
        )
        out.append((start, start + length))
    return out


@pytest.mark.parametrize(
    ("calendar", "first"),
    [
        (WorkingCalendar("Asia/Shanghai"), date(2026, 9, 20)),  # National Day, make-up days
        (WorkingCalendar("Asia/Shanghai"), date(2026, 10, 15)),
        (
            WorkingCalendar("Europe/Berlin", country="DE", hours=(time(8, 30), time(17, 45))),
            date(2026, 3, 1),
        ),  # daylight saving time begins and ends
        (WorkingCalendar("Europe/Berlin", country="DE"), date(2026, 10, 1)),
        (WorkingCalendar("Asia/Shanghai", hours=(time(10), time(9))), date(2026, 11, 1)),
    ],
)
def test_working_hours_equal_the_walk_per_instant(calendar: WorkingCalendar, first: date) -> None:
    given = spans(random.Random(first.toordinal()), first, 20_000)
    assert working_hours(calendar, given) == reference_hours(calendar, given)


def test_percentiles_sorted_once_equal_one_at_a_time() -> None:
    rng = random.Random(7)
    values = [rng.uniform(0, 100) for _ in range(10_001)]
    assert percentiles(values, (0.5, 0.9)) == [percentile(values, 0.5), percentile(values, 0.9)]
    assert percentiles([], (0.5, 0.9)) == [None, None]
    assert percentiles([3.0], (0.5, 0.9)) == [3.0, 3.0]
