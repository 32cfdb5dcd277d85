"""Working days in mainland China: official schedules, make-up days, and honest gaps."""

from __future__ import annotations

import logging
from datetime import date, datetime, time

import pytest

import dialogs.policy.calendar as calendar_module
from dialogs.policy import WorkingCalendar, load_policy
from dialogs.policy.calendar import collecting_schedule_gaps, year_table
from dialogs.policy.loader import calendar_warning
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


@pytest.fixture
def fresh_gaps(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a new process: no gap logged yet."""
    monkeypatch.setattr(calendar_module, "_logged_gaps", set())


def _gap_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "2027" in r.getMessage()]


@pytest.mark.usefixtures("fresh_gaps")
def test_a_year_without_official_schedule_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    year_table.cache_clear()
    with caplog.at_level(logging.WARNING, logger="dialogs.policy.calendar"):
        fresh = WorkingCalendar("Asia/Shanghai")
        fresh.is_working_day(date(2027, 3, 1))
        fresh.is_working_day(date(2027, 3, 2))
        WorkingCalendar("Asia/Shanghai").is_working_day(date(2027, 3, 3))
    warnings = _gap_records(caplog)
    assert len(warnings) == 1
    assert warnings[0].levelno == logging.WARNING
    assert warnings[0].name == "dialogs.policy.calendar"
    assert "no official CN holiday schedule for 2027" in warnings[0].getMessage()
    # It still falls back to weekends and statutory holidays.
    assert not fresh.is_working_day(date(2027, 10, 1))
    assert not fresh.is_working_day(date(2027, 3, 6))  # Saturday
    assert fresh.is_working_day(date(2027, 3, 8))


@pytest.mark.usefixtures("fresh_gaps")
def test_only_a_working_day_count_into_the_year_warns(caplog: pytest.LogCaptureFixture) -> None:
    fresh = WorkingCalendar("Asia/Shanghai")
    with caplog.at_level(logging.WARNING, logger="dialogs.policy.calendar"):
        # Days and hours do not depend on the schedule; a working-day count within 2026 neither.
        assert fresh.add(at("2026-12-28 10:00"), 15, "days").year == 2027
        assert fresh.add(at("2026-12-31 10:00"), 48, "hours").year == 2027
        assert fresh.add(at("2026-12-21 10:00"), 3, "working_days").year == 2026
        assert not _gap_records(caplog)
        assert fresh.add(at("2026-12-28 10:00"), 7, "working_days").year == 2027
    assert len(_gap_records(caplog)) == 1


@pytest.mark.usefixtures("fresh_gaps")
def test_the_shops_own_days_need_no_schedule(caplog: pytest.LogCaptureFixture) -> None:
    shop = WorkingCalendar(
        "Asia/Shanghai",
        extra_holidays=[date(2027, 1, 4)],
        extra_working_days=[date(2027, 1, 2)],
    )
    with caplog.at_level(logging.WARNING, logger="dialogs.policy.calendar"):
        assert shop.is_working_day(date(2027, 1, 2))
        assert not shop.is_working_day(date(2027, 1, 4))
    assert not _gap_records(caplog)


@pytest.mark.usefixtures("fresh_gaps")
def test_loading_a_policy_does_not_warn(caplog: pytest.LogCaptureFixture) -> None:
    # What `run`, `sandbox` and `policy check` do: no look-ahead, nothing said at load.
    with caplog.at_level(logging.WARNING):
        policy = load_policy("t2")
    assert policy.warnings == []
    assert not caplog.records
    # The look-ahead is validate's: this year and the next.
    ahead = load_policy("t2", now=at("2026-12-02 10:00"))
    assert ahead.warnings == [calendar_warning("CN", 2027)]
    assert not caplog.records


@pytest.mark.usefixtures("fresh_gaps")
def test_a_deadline_counted_into_the_year_logs_once_per_process(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t2, t12 = load_policy("t2"), load_policy("t12")
    with caplog.at_level(logging.WARNING):
        t2.sla_deadline("review", at("2026-11-12 10:00"))
        assert not _gap_records(caplog)
        # Two policies, several deadlines into 2027, one process: one line.
        for policy in (t2, t12):
            policy.sla_deadline("review", at("2026-12-30 10:00"))
            policy.sla_deadline("review", at("2026-12-31 10:00"))
    assert len(_gap_records(caplog)) == 1


@pytest.mark.usefixtures("fresh_gaps")
def test_collected_gaps_are_not_logged_and_see_cached_days(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fresh = WorkingCalendar("Asia/Shanghai")
    with caplog.at_level(logging.WARNING, logger="dialogs.policy.calendar"):
        with collecting_schedule_gaps() as first:
            fresh.add(at("2026-12-30 10:00"), 3, "working_days")
        assert first == {("CN", 2027)}
        assert not _gap_records(caplog)
        with collecting_schedule_gaps() as within:
            fresh.add(at("2026-11-02 10:00"), 3, "working_days")
        assert within == set()
        # The same days again, now from the calendar's cache: still this count's gap.
        with collecting_schedule_gaps() as again:
            fresh.add(at("2026-12-30 10:00"), 3, "working_days")
        assert again == {("CN", 2027)}
        assert not _gap_records(caplog)
        # Outside a collecting block the calendar logs it, as the bot's would.
        fresh.add(at("2026-12-30 10:00"), 3, "working_days")
    assert len(_gap_records(caplog)) == 1


WORKING = WorkingCalendar("Asia/Shanghai", hours=(time(9, 0), time(21, 0)))


@pytest.mark.parametrize(
    ("start", "hours", "end"),
    [
        ("2026-11-26 10:00", 4, "2026-11-26 14:00"),  # a Thursday morning
        ("2026-11-26 19:00", 4, "2026-11-27 11:00"),  # two hours today, two tomorrow
        ("2026-11-27 20:00", 4, "2026-11-30 12:00"),  # Friday evening: Monday noon
        ("2026-11-26 06:00", 4, "2026-11-26 13:00"),  # before opening: from 09:00
        ("2026-11-26 22:30", 1, "2026-11-27 10:00"),  # after closing: the next morning
        ("2026-09-30 20:00", 4, "2026-10-08 12:00"),  # over the National Day week
        ("2026-10-09 20:00", 14, "2026-10-12 10:00"),  # the make-up Saturday 10 Oct counts
    ],
)
def test_working_hours_run_only_in_the_shops_hours(start: str, hours: int, end: str) -> None:
    assert WORKING.add(at(start), hours, "working_hours") == at(end)
