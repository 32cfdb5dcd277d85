"""Profile T2 (电商平台购物售后服务模板). Delivered Wed 4 Nov 2026: 7 wd end Fri 13 Nov."""

from __future__ import annotations

import pytest

from dialogs.policy import Claim, load_policy
from tests.policy.helpers import at, claim, expect, item

policy = load_policy("t2")
KEPT = ("packaging_intact", "accessories_complete")
# Delivered the day before the National Day week: 7 working days end Wed 14 Oct 2026.
HOLIDAY = item(purchased="2026-09-27 10:00", delivered="2026-09-29 15:00")

CASES = [
    pytest.param(
        claim("return", "quality", conditions=KEPT),
        "2026-11-13 20:00",
        "approve",
        "t2.return.within_7wd",
        {"shipping_paid_by": "merchant", "deadline": "2026-11-18T23:59"},
        id="T2: quality return within 7 working days of receipt; answer in 3 wd",
    ),
    pytest.param(
        claim("return", "quality", conditions=KEPT),
        "2026-11-14 09:00",
        "reject",
        "t2.return.past_window",
        {"alternatives": (), "deadline": None},
        id="T2: the 8th working day is too late",
    ),
    pytest.param(
        claim("return", "not_as_described", conditions=("packaging_intact",)),
        "2026-11-06 09:00",
        "reject",
        "t2.return.within_7wd.conditions",
        {"conditions_required": ("accessories_complete",)},
        id="T2: goods intact with accessories and packaging",
    ),
    pytest.param(
        claim("return", "no_reason", conditions=KEPT),
        "2026-11-06 09:00",
        "reject",
        "t2.return.reason_not_allowed",
        {},
        id="T2: only quality problems or not as described",
    ),
    pytest.param(
        claim("exchange", "not_as_described", conditions=KEPT),
        "2026-11-12 09:00",
        "approve",
        "t2.exchange.within_7wd",
        {"shipping_paid_by": "merchant"},
        id="T2: exchange when not as described, within 7 working days",
    ),
    pytest.param(
        claim("repair", "quality", conditions=KEPT),
        "2026-11-12 09:00",
        "approve",
        "t2.repair.within_7wd",
        {},
        id="T2: repair for quality within 7 working days",
    ),
    pytest.param(
        claim("repair", "not_as_described", conditions=KEPT),
        "2026-11-12 09:00",
        "reject",
        "t2.repair.reason_not_allowed",
        {"alternatives": ("return", "exchange", "refund")},
        id="T2: repair is for quality problems only",
    ),
    pytest.param(
        claim("refund", "not_as_described"),
        "2026-11-12 09:00",
        "approve",
        "t2.refund.within_7wd",
        {"shipping_paid_by": None, "next_step": "none"},
        id="T2: refund (without return) when not as described",
    ),
    pytest.param(
        claim("return", "quality", HOLIDAY, conditions=KEPT),
        "2026-10-14 22:00",
        "approve",
        "t2.return.within_7wd",
        {},
        id="T2+T6: the National Day week extends the 7 working days to 14 Oct",
    ),
    pytest.param(
        claim("return", "quality", HOLIDAY, conditions=KEPT),
        "2026-10-15 08:00",
        "reject",
        "t2.return.past_window",
        {},
        id="T2+T6: 15 Oct is past the extended window",
    ),
]


@pytest.mark.parametrize(("request_", "now", "outcome", "rule", "fields"), CASES)
def test_t2(request_: Claim, now: str, outcome: str, rule: str, fields: dict) -> None:
    expect(policy.decide(request_, at(now)), outcome, rule, **fields)


def test_t2_clocks() -> None:
    received = at("2026-11-13 10:00")  # Friday
    assert policy.sla_deadline("refund_after_receipt", received).date().isoformat() == "2026-11-18"
    assert policy.sla_deadline("exchange_ship_after_receipt", received).day == 18
    assert policy.sla_deadline("repair_after_receipt", received).date().isoformat() == "2026-11-24"
    assert policy.sla_deadline("first_reply", received) is None
