"""Profile T16 (电商售后服务手册模板). Bought Mon 2 Nov 2026, delivered Wed 4 Nov."""

from __future__ import annotations

import pytest

from dialogs.policy import Claim, EvidenceNeed, load_policy
from tests.policy.helpers import at, claim, expect

policy = load_policy("t16")
INTACT = ("packaging_intact", "tags_attached", "accessories_complete")

CASES = [
    pytest.param(
        claim("return", "quality", evidence=1, conditions=INTACT),
        "2026-11-11 20:00",
        "approve",
        "t16.return.within_7_days",
        {"shipping_paid_by": "customer", "deadline": "2026-11-13T23:59"},
        id="T16: return within 7 days of receipt; customer ships and pays; review in 2 wd",
    ),
    pytest.param(
        claim("return", "not_as_described", evidence=1, conditions=INTACT),
        "2026-11-12 08:00",
        "reject",
        "t16.return.past_window",
        {},
        id="T16: day 8 after receipt is too late for a return",
    ),
    pytest.param(
        claim("return", "no_reason", conditions=INTACT),
        "2026-11-06 08:00",
        "reject",
        "t16.return.reason_not_allowed",
        {"alternatives": ("exchange", "repair")},
        id="T16: returns only for quality or not as described",
    ),
    pytest.param(
        claim("exchange", "size_colour", evidence=1, conditions=INTACT),
        "2026-11-19 20:00",
        "approve",
        "t16.exchange.within_15_days",
        {"shipping_paid_by": "customer"},
        id="T16: exchange within 15 days of receipt for size or colour",
    ),
    pytest.param(
        claim("exchange", "quality", evidence=1, conditions=INTACT),
        "2026-11-06 08:00",
        "reject",
        "t16.exchange.reason_not_allowed",
        {"alternatives": ("return", "repair")},
        id="T16: exchange is not for quality problems",
    ),
    pytest.param(
        claim("exchange", "size_colour", evidence=1, conditions=INTACT[:2]),
        "2026-11-06 08:00",
        "reject",
        "t16.exchange.within_15_days.conditions",
        {"conditions_required": ("accessories_complete",)},
        id="T16: packaging, tags and accessories intact",
    ),
    pytest.param(
        claim("repair", "quality", evidence=1),
        "2026-12-02 20:00",
        "approve",
        "t16.repair.within_30_days",
        {"shipping_paid_by": "customer"},
        id="T16: repair within 30 days of purchase",
    ),
    pytest.param(
        claim("repair", "quality", evidence=1),
        "2026-12-03 08:00",
        "reject",
        "t16.repair.past_window",
        {},
        id="T16: day 31 after purchase is too late for repair",
    ),
    pytest.param(
        claim("repair", "quality"),
        "2026-11-20 08:00",
        "reject",
        "t16.evidence.missing",
        {"evidence_required": EvidenceNeed("photo", 1)},
        id="T16: apply with the reason and photos",
    ),
]


@pytest.mark.parametrize(("request_", "now", "outcome", "rule", "fields"), CASES)
def test_t16(request_: Claim, now: str, outcome: str, rule: str, fields: dict) -> None:
    expect(policy.decide(request_, at(now)), outcome, rule, **fields)


def test_t16_clocks() -> None:
    received = at("2026-11-13 10:00")  # Friday
    assert policy.sla_deadline("refund_after_receipt", received).date().isoformat() == "2026-11-18"
    assert policy.sla_deadline("exchange_ship_after_receipt", received).day == 18
    assert policy.sla_deadline("repair_after_receipt", received).date().isoformat() == "2026-11-20"
