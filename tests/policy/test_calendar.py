"""Working days in mainland China: official schedules, make-up days, and honest gaps."""

from __future__ import annotations

import logging
from datetime import date, datetime

import pytest

from dialogs.policy import WorkingCalendar
from dialogs.policy.calendar import year_table
from tests.policy.helpers import at

cal = WorkingCalendar("Asia/Shanghai")


@pytest.mark.parametrize("day", range(1, 8))
def test_national_day_week_2026_is_off(day: int) -> None:
    assert not cal.is_working_day(date(2026, 10, day))


def test_make_up_working_days_2026() -> None:
    assert date(2026, 10, 10).weekday() == 5  # Saturday
    assert cal.is_working_day(date(2026, 10, 10))
    assert date(2026, 9, 20).weekday() == 6  # Sunday
    assert cal.is_working_day(date(2026, 9, 20))


def test_ordinary_weekend_and_weekday() -> None:
    assert not cal.is_working_day(date(2026, 11, 7))  # Saturday
    assert cal.is_working_day(date(2026, 11, 9))  # Monday


def test_working_days_skip_the_national_day_week() -> None:
    # T6: holidays and rest days extend working-day limits. 30 Sept (Wed) + 3 working days:
    # 1-7 Oct off, 8 Oct (Thu) 1st, 9 Oct (Fri) 2nd, 10 Oct (Sat, make-up day) 3rd.
    end = cal.add(at("2026-09-30 18:00"), 3, "working_days")
    assert end.date() == date(2026, 10, 10)
    assert (end.hour, end.minute, end.second) == (23, 59, 59)


def test_days_end_at_the_last_instant_of_the_nth_day_after() -> None:
    end = cal.add(at("2026-11-04 15:00"), 7, "days")
    assert end == datetime.fromisoformat("2026-11-11T23:59:59.999+08:00")


def test_hours_are_exact() -> None:
    assert cal.add(at("2026-11-04 15:00"), 24, "hours") == at("2026-11-05 15:00")


def test_days_are_counted_in_the_profile_time_zone() -> None:
    # 20:00 UTC on 3 Nov is already 4 Nov in Shanghai: the window counts from 4 Nov.
    start = datetime.fromisoformat("2026-11-03T20:00:00+00:00")
    assert cal.add(start, 1, "days").date() == date(2026, 11, 5)


def test_extra_holidays_and_working_days() -> None:
    shop = WorkingCalendar(
        "Asia/Shanghai",
        extra_holidays=[date(2026, 11, 11)],
        extra_working_days=[date(2026, 11, 14)],
    )
    assert not shop.is_working_day(date(2026, 11, 11))
    assert shop.is_working_day(date(2026, 11, 14))
    # Tue 10 Nov + 2 wd: 11 Nov is the shop's holiday, 12 (Thu) 1st, 13 (Fri) 2nd.
    assert shop.add(at("2026-11-10 09:00"), 2, "working_days").date() == date(2026, 11, 13)


def test_unknown_unit_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown unit"):
        cal.add(at("2026-11-10 09:00"), 2, "weeks")


def test_official_schedule_years() -> None:
    assert cal.has_official_schedule(2026)
    assert not cal.has_official_schedule(2027)


def test_a_year_without_official_schedule_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    year_table.cache_clear()
    with caplog.at_level(logging.WARNING, logger="dialogs.policy.calendar"):
        fresh = WorkingCalendar("Asia/Shanghai")
        fresh.is_working_day(date(2027, 3, 1))
        fresh.is_working_day(date(2027, 3, 2))
        WorkingCalendar("Asia/Shanghai").is_working_day(date(2027, 3, 3))
    warnings = [r for r in caplog.records if "2027" in r.getMessage()]
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    # It still falls back to weekends and statutory holidays.
    assert not fresh.is_working_day(date(2027, 10, 1))
    assert not fresh.is_working_day(date(2027, 3, 6))  # Saturday
    assert fresh.is_working_day(date(2027, 3, 8))
