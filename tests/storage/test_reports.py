"""The report's figures against a hand-made history (tests/reports_history.py) where every
number is known, on each backend: counted by the database, shaped by dialogs.reports."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from dialogs.policy.calendar import WorkingCalendar
from dialogs.reports import Period, Report, build_report
from storage.db import Database
from storage.repos.reports import ReportRepo
from tests.reports_history import load_history

TZ = "Asia/Shanghai"
WEEK = Period(date(2026, 11, 2), date(2026, 11, 8))


async def _report(db: Database, period: Period = WEEK) -> Report:
    async with db.read() as session:
        return await build_report(ReportRepo(session), period, TZ, WorkingCalendar(TZ))


def _lines(lines: tuple) -> list[tuple[str, int, int]]:  # type: ignore[type-arg]
    """Each name once, the largest first."""
    return [(line.name, line.count, line.previous) for line in lines]


@pytest.fixture
async def report(db: Database) -> Report:
    await load_history(db)
    return await _report(db)


def test_volume_by_service_reason_and_category(report: Report) -> None:
    assert report.previous_period == Period(date(2026, 10, 26), date(2026, 11, 1))
    assert (report.requests, report.questions) == (4, 1)
    assert _lines(report.by_service) == [("return", 2, 2), ("exchange", 1, 1), ("repair", 1, 0)]
    assert _lines(report.by_reason) == [
        ("quality", 3, 1),
        ("size_colour", 1, 1),
        ("no_reason", 0, 1),
    ]
    assert _lines(report.by_category) == [
        ("electronics", 2, 0),
        ("apparel", 1, 3),
        ("appliances", 1, 0),
    ]
    assert report.by_service[0].name == "return" and report.by_service[0].share == 0.5


def test_top_products_by_claims_and_by_claim_rate(report: Report) -> None:
    by_claims = [(p.sku, p.claims, p.units_sold) for p in report.products_by_claims]
    assert by_claims == [("PH-1", 2, 2), ("RC-1", 1, 2), ("TS-1", 1, 4)]
    by_rate = [(p.sku, p.claims / p.units_sold) for p in report.products_by_rate]
    assert by_rate == [("PH-1", 1.0), ("RC-1", 0.5), ("TS-1", 0.25)]


def test_decision_mix_and_the_rules_that_fired_most(report: Report) -> None:
    decisions = [(line.name, line.count, line.share) for line in report.decisions]
    assert decisions == [("approve", 2, 0.5), ("reject", 1, 0.25), ("needs_agent", 1, 0.25)]
    assert [(r.name, r.count) for r in report.rules] == [
        ("quality_return", 2),
        ("no_reason_7d", 1),
        ("order_value", 1),
        ("repair_window", 1),
    ]
    approved = report.change("approve_share")
    assert approved.previous == pytest.approx(2 / 3)
    assert approved.arrow == "↓" and approved.percent == pytest.approx(-25.0)


def test_times_in_working_hours_skip_nights_and_weekends(report: Report) -> None:
    # First responses: 17:00 Tue -> 10:00 Wed = 2 h; 17:30 Fri -> 9:30 Mon = 1 h; 9:00 -> 13:00
    # the same day (a question) = 4 h.
    fr = report.first_response
    assert fr.count == 3 and fr.p50 == pytest.approx(2.0) and fr.p90 == pytest.approx(3.6)
    assert report.waiting_first_response == 1
    # Resolutions: 10:00 -> 15:00 Mon = 5 h; 17:30 Fri -> 12:00 Mon = 3.5 h.
    res = report.resolution
    assert res.count == 2 and res.p50 == pytest.approx(4.25) and res.p90 == pytest.approx(4.85)


def test_service_clocks_met_and_breached_by_step(report: Report) -> None:
    clocks = {c.name: (c.met, c.breached, c.running) for c in report.clocks}
    assert clocks == {
        "first_response": (1, 0, 0),
        "review": (0, 1, 0),
        "refund_after_receipt": (1, 0, 0),
        "repair_after_receipt": (0, 0, 1),
    }  # the customer's ship-back deadline and the half-time reminder are not the shop's
    met = report.change("clocks_met_share")
    assert met.value == pytest.approx(2 / 3) and met.previous == 1.0


def test_refunds_by_payment_method(report: Report) -> None:
    assert report.refunds == (
        ("cod", "CNY", 1, Decimal("99.00")),
        ("online", "CNY", 1, Decimal("1599.00")),
    )
    assert report.refund_count == 2 and report.refund_amounts == (("CNY", Decimal("1698.00")),)
    refunds = report.change("refunds")
    assert (refunds.value, refunds.previous, refunds.arrow, refunds.percent) == (2, 0, "↑", None)


def test_satisfaction_overall_per_dimension_and_per_agent(report: Report) -> None:
    assert report.csat_answers == 3 and report.csat == pytest.approx(4.0)
    assert [(line.name, line.count) for line in report.ratings] == [
        ("1", 0),
        ("2", 0),
        ("3", 1),
        ("4", 1),
        ("5", 1),
    ]
    dims = dict(report.dimensions)
    assert dims["attitude"] == pytest.approx(4.0) and dims["speed"] == pytest.approx(4.0)
    assert dims["result"] == pytest.approx(11 / 3)
    assert [(a.name, a.answers, a.average) for a in report.agents] == [
        ("Agent Li", 2, 4.5),
        ("", 1, 3.0),
    ]
    assert report.change("csat").percent == pytest.approx(100.0)  # 2.0 the week before


def test_repeat_claimers_and_reused_evidence(report: Report) -> None:
    assert (report.repeat_claimers, report.repeat_claims) == (1, 2)  # 王小明: K1 and K3
    assert (report.reused_evidence_cases, report.reused_evidence_files) == (1, 1)
    assert report.change("repeat_claimers").previous == 1  # 李娜 the week before


async def test_a_period_without_cases_says_so_and_divides_by_nothing(db: Database) -> None:
    await load_history(db)
    empty = await _report(db, Period(date(2025, 1, 6), date(2025, 1, 12)))
    assert empty.empty and empty.requests == 0
    assert all(line.share is None for line in empty.decisions)
    assert empty.first_response.p50 is None and empty.csat is None
    assert all(change.percent is None for _, change in empty.key)


async def test_counted_on_several_connections_at_once_the_report_is_the_same(db: Database) -> None:
    await load_history(db)
    alone = await _report(db)
    async with db.read() as session:  # PostgreSQL: each group of statements on a session
        together = await build_report(ReportRepo(session, db.read), WEEK, TZ, WorkingCalendar(TZ))
    assert together == alone and together.requests == 4
