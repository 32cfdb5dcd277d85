"""Which days a report covers, in the shop's time zone, and when the weekly digest is due."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .figures import Period

SPANS = {"week": 7, "month": 30}  # /report week | month: the days up to today


def previous(period: Period) -> Period:
    """The period of the same length just before."""
    last = period.first - timedelta(days=1)
    return Period(last - timedelta(days=period.days - 1), last)


def bounds(period: Period, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC: from the first day's local midnight to the one after the last."""
    tz = ZoneInfo(timezone)
    start = datetime.combine(period.first, time(0), tzinfo=tz)
    end = datetime.combine(period.last + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def recent(now: datetime, timezone: str, span: str) -> Period:
    """The last 7 (week) or 30 (month) days, today included."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    return Period(today - timedelta(days=SPANS[span] - 1), today)


def last_week(now: datetime, timezone: str) -> Period:
    """Monday to Sunday of the week before the one `now` is in."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    monday = today - timedelta(days=today.weekday())
    return Period(monday - timedelta(days=7), monday - timedelta(days=1))


def next_digest(now: datetime, timezone: str, weekday: int, hour: int) -> datetime:
    """The next `weekday` (0 Monday) at `hour`:00 local time after `now`, in UTC."""
    tz = ZoneInfo(timezone)
    local = now.astimezone(tz)
    day: date = local.date() + timedelta(days=(weekday - local.weekday()) % 7)
    due = datetime.combine(day, time(hour), tzinfo=tz)
    if due <= local:
        due += timedelta(days=7)
    return due.astimezone(UTC)
