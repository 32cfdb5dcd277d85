"""Profile T5 (电商售后服务模板). Bought Mon 2 Nov 2026: 14 days end 16 Nov, 30 days end 2 Dec."""

from __future__ import annotations

import pytest

from dialogs.policy import Claim, EvidenceNeed, load_policy
from tests.policy.helpers import at, claim, expect, item

policy = load_policy("t5")
AS_NEW = ("unused", "packaging_intact", "accessories_complete")

CASES = [
    pytest.param(
        claim("return", "no_reason", conditions=AS_NEW),
        "2026-11-16 20:00",
        "approve",
        "t5.return.within_14_days",
        {"shipping_paid_by": "merchant", "deadline": "2026-11-19T23:59"},
        id="T5: not satisfied, return within 14 days of purchase, shop pays shipping",
    ),
    pytest.param(
        claim("return", "no_reason", conditions=("packaging_intact", "accessories_complete")),
        "2026-11-10 12:00",
        "reject",
        "t5.return.within_14_days.conditions",
        {"conditions_required": ("unused",)},
        id="T5: unused, original packaging and accessories",
    ),
    pytest.param(
        claim("return", "no_reason", conditions=AS_NEW),
        "2026-11-17 09:00",
        "reject",
        "t5.return.past_window",
        {"alternatives": ("exchange", "repair")},
        id="T5: after 14 days exchange (quality) or repair remain",
    ),
    pytest.param(
        claim("exchange", "quality", evidence=1, conditions=AS_NEW),
        "2026-12-02 20:00",
        "approve",
        "t5.exchange.within_30_days",
        {"shipping_paid_by": "merchant"},
        id="T5: quality exchange within 30 days of purchase, shop pays",
    ),
    pytest.param(
        claim("exchange", "quality", conditions=AS_NEW),
        "2026-11-20 12:00",
        "reject",
        "t5.evidence.missing",
        {"evidence_required": EvidenceNeed("photo", 1)},
        id="T5: exchange needs photos and a description",
    ),
    pytest.param(
        claim("exchange", "size_colour", conditions=AS_NEW),
        "2026-11-10 12:00",
        "reject",
        "t5.exchange.reason_not_allowed",
        {"alternatives": ("return", "repair")},
        id="T5: exchange is for quality problems",
    ),
    pytest.param(
        claim("repair", "quality", evidence=1),
        "2026-12-10 12:00",
        "reject",
        "t5.evidence.missing",
        {"evidence_required": EvidenceNeed("photo", 2, proof_of_purchase=True)},
        id="T5: repair needs photos and proof of purchase",
    ),
    pytest.param(
        claim("repair", "quality", evidence=2),
        "2026-12-10 12:00",
        "approve",
        "t5.repair.free_repair",
        {"shipping_paid_by": "merchant"},
        id="T5: free repair when return and exchange no longer apply",
    ),
    pytest.param(
        claim("return", "no_reason", item(category="custom_made"), conditions=AS_NEW),
        "2026-11-10 12:00",
        "reject",
        "law.no_reason.excluded_category",
        {},
        id="Law art. 25 on top of T5: custom-made goods have no no-reason return",
    ),
]


@pytest.mark.parametrize(("request_", "now", "outcome", "rule", "fields"), CASES)
def test_t5(request_: Claim, now: str, outcome: str, rule: str, fields: dict) -> None:
    expect(policy.decide(request_, at(now)), outcome, rule, **fields)


def test_t5_courier_collects_returns() -> None:
    request_ = claim("return", "no_reason", conditions=AS_NEW)
    decision = policy.decide(request_, at("2026-11-10 12:00"))
    assert decision.explanation.values["return_method"] == "pickup"


def test_t5_clocks() -> None:
    received = at("2026-11-13 10:00")  # Friday; 7 working days: Mon 16 ... Tue 24 Nov
    assert policy.sla_deadline("refund_after_receipt", received).date().isoformat() == "2026-11-24"
    assert policy.sla_deadline("review", received).date().isoformat() == "2026-11-18"
