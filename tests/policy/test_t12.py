"""Profile T12 (电商平台售后服务规定), rule by rule. Bought Mon 2 Nov 2026, delivered Wed 4 Nov."""

from __future__ import annotations

import pytest

from dialogs.policy import Claim, EvidenceNeed, load_policy
from tests.policy.helpers import at, claim, expect, item

policy = load_policy("t12")
KEPT = ("packaging_intact", "accessories_complete")

CASES = [
    pytest.param(
        claim("return", "no_reason"),
        "2026-11-10 12:00",
        "approve",
        "t12.return.tier1",
        {"shipping_paid_by": "customer", "deadline": "2026-11-13T23:59", "next_step": "ship_back"},
        id="T12: used up to 7 days, return unconditional",
    ),
    pytest.param(
        claim("return", "no_reason", conditions=KEPT),
        "2026-11-15 12:00",
        "approve",
        "t12.return.tier2",
        {"shipping_paid_by": "customer"},
        id="T12: 7-15 days needs packaging and accessories intact (confirmed)",
    ),
    pytest.param(
        claim("return", "no_reason", conditions=("packaging_intact",)),
        "2026-11-15 12:00",
        "reject",
        "t12.return.tier2.conditions",
        {"conditions_required": ("accessories_complete",), "deadline": None},
        id="T12: 7-15 days without accessories the tier does not match",
    ),
    pytest.param(
        claim("return", "quality", evidence=1),
        "2026-11-25 12:00",
        "needs_agent",
        "t12.return.case_by_case",
        {"deadline": "2026-11-30", "shipping_paid_by": None, "next_step": "await_review"},
        id="T12: over 15 days judged case by case; answer within 3 working days",
    ),
    pytest.param(
        claim("exchange", "quality", evidence=2),
        "2026-11-17 20:00",
        "approve",
        "t12.exchange.within_15_days",
        {"shipping_paid_by": "merchant"},
        id="T12: exchange within 15 days of purchase for quality",
    ),
    pytest.param(
        claim("exchange", "quality", evidence=2),
        "2026-11-20 12:00",
        "reject",
        "t12.exchange.past_window",
        {"alternatives": ("return", "repair")},
        id="T12: after the exchange window only repair or return",
    ),
    pytest.param(
        claim("exchange", "quality", evidence=1),
        "2026-11-10 12:00",
        "reject",
        "t12.evidence.missing",
        {"evidence_required": EvidenceNeed("photo", 2, proof_of_purchase=True)},
        id="T12: exchange needs a description and proof of purchase",
    ),
    pytest.param(
        claim("exchange", "size_colour"),
        "2026-11-10 12:00",
        "reject",
        "t12.exchange.reason_not_allowed",
        {"alternatives": ("return", "repair")},
        id="T12: exchange is for quality problems",
    ),
    pytest.param(
        claim("repair", "quality", evidence=1),
        "2027-11-01 12:00",
        "approve",
        "t12.repair.within_1_year",
        {"shipping_paid_by": "merchant"},
        id="T12: repair within one year of purchase",
    ),
    pytest.param(
        claim("repair", "quality", evidence=1),
        "2027-11-03 12:00",
        "needs_agent",
        "t12.repair.paid_repair_only",
        {},
        id="T12: after the warranty only paid repair (a person quotes it)",
    ),
    pytest.param(
        claim("return", "quality"),
        "2026-11-06 12:00",
        "reject",
        "t12.evidence.missing",
        {"evidence_required": EvidenceNeed("photo", 1)},
        id="T12: application with description and photos",
    ),
]


@pytest.mark.parametrize(("request_", "now", "outcome", "rule", "fields"), CASES)
def test_t12(request_: Claim, now: str, outcome: str, rule: str, fields: dict) -> None:
    expect(policy.decide(request_, at(now)), outcome, rule, **fields)


def test_t12_refund_online_3_working_days_cod_7() -> None:
    received = at("2026-11-13 10:00")  # Friday
    assert policy.sla_deadline("refund_after_receipt", received).date().isoformat() == "2026-11-18"
    cod = policy.sla_deadline("refund_after_receipt", received, payment="cod")
    assert cod.date().isoformat() == "2026-11-24"
    assert policy.sla_action("refund_after_receipt") == "escalate"
    assert policy.sla_deadline("ship_back", received) is None


def test_t12_conditions_depend_on_the_tier() -> None:
    facts = item()
    assert policy.conditions("return", "no_reason", facts, at("2026-11-08 10:00")) == []
    assert policy.conditions("return", "no_reason", facts, at("2026-11-15 10:00")) == list(KEPT)
    assert policy.conditions("return", "no_reason", facts, at("2026-11-25 10:00")) == []
