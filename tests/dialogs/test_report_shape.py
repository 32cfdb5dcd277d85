"""The report shaped from hand-made figures (no database): the first response of a period with
only questions, as /report's caption gives it."""

from __future__ import annotations

from datetime import UTC, date, datetime

from dialogs.policy.calendar import WorkingCalendar
from dialogs.reports.figures import Period, Report, shape
from dialogs.texts import Texts
from storage.report_figures import CubeRow, PeriodFigures, Times

TZ = "Asia/Shanghai"
WEEK = Period(date(2026, 11, 23), date(2026, 11, 29))
BEFORE = Period(date(2026, 11, 16), date(2026, 11, 22))


def _epoch(*parts: int) -> float:
    return datetime(*parts, tzinfo=UTC).timestamp()


def _figures(times: Times, questions: int) -> PeriodFigures:
    cube = (CubeRow("question", None, None, None, "needs_agent", questions),) if questions else ()
    return PeriodFigures(
        start=datetime(2026, 11, 22, 16, tzinfo=UTC), end=datetime(2026, 11, 29, 16, tzinfo=UTC),
        cube=cube, products_by_claims=(), products_by_rate=(), rules=(), times=times,
        clocks=(), refunds=(), ratings=(), dimensions=(), agents=(), repeat_claimers=0,
        repeat_claims=0, reused_evidence_cases=0, reused_evidence_files=0,
    )  # fmt: skip


def _report(times: Times, questions: int) -> Report:
    none = Times([], [], [], [], [])
    return shape(_figures(times, questions), _figures(none, 0), WEEK, BEFORE,
                 WorkingCalendar(TZ))  # fmt: skip


def _caption(report: Report) -> list[str]:
    text = str(Texts(timezone=TZ).render("en", "report/summary", report=report, digest=False))
    return [line for line in text.splitlines() if line.startswith("First response")]


def test_questions_nobody_answered_have_no_first_response_not_zero_hours() -> None:
    asked = _epoch(2026, 11, 24, 2)  # Tuesday 10:00 in Shanghai
    report = _report(Times(["question"], [asked], [asked], [None], [None]), questions=1)
    assert report.requests == 0 and not report.empty  # a question is a case
    assert (report.first_response.count, report.first_response.p50) == (0, None)
    assert report.waiting_first_response == 1
    assert _caption(report) == ["First response p50: – →", "First response p90: – →"]


def test_a_question_answered_out_of_hours_took_no_working_time() -> None:
    # What the sandbox showed at night: a question asked and answered at 22:20 in Shanghai is a
    # first response (one, of 0 working hours), not a period without any.
    asked = _epoch(2026, 11, 24, 14, 20)
    answered = _epoch(2026, 11, 24, 14, 21)
    report = _report(Times(["question"], [asked], [asked], [answered], [None]), questions=1)
    assert (report.first_response.count, report.first_response.p50) == (1, 0.0)
    # Under an hour it reads in minutes: "0.0 h" looked like a missing figure.
    assert _caption(report) == ["First response p50: under 1 min →",
                                "First response p90: under 1 min →"]  # fmt: skip


def test_a_first_response_under_an_hour_reads_in_minutes() -> None:
    asked = _epoch(2026, 11, 24, 2)  # Tuesday 10:00 in Shanghai, a working hour
    answered = _epoch(2026, 11, 24, 2, 30)
    report = _report(Times(["question"], [asked], [asked], [answered], [None]), questions=1)
    assert report.first_response.p50 == 0.5
    assert _caption(report) == ["First response p50: 30 min → new",
                                "First response p90: 30 min → new"]  # fmt: skip
