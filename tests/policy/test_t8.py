"""Profile T8 (电商售后服务操作规程). Bought Mon 2 Nov 2026 10:00, delivered Wed 4 Nov 15:00."""

from __future__ import annotations

import pytest

from dialogs.policy import Claim, EvidenceNeed, load_policy
from tests.policy.helpers import at, claim, expect

policy = load_policy("t8")
KEPT = ("packaging_intact", "accessories_complete")

CASES = [
    pytest.param(
        claim("return", "transit_damage", evidence=1),
        "2026-11-05 14:00",
        "approve",
        "t8.return.transit_24h",
        {"shipping_paid_by": "merchant", "deadline": "2026-11-06T14:00"},
        id="T8: transit damage reported within 24 hours of receipt, with proof",
    ),
    pytest.param(
        claim("return", "transit_damage", evidence=1),
        "2026-11-05 16:00",
        "reject",
        "t8.return.past_window",
        {},
        id="T8: transit damage after 24 hours is too late",
    ),
    pytest.param(
        claim("return", "transit_damage"),
        "2026-11-05 10:00",
        "reject",
        "t8.evidence.missing",
        {"evidence_required": EvidenceNeed("photo_or_video", 1)},
        id="T8: photo or video proof is required",
    ),
    pytest.param(
        claim("return", "quality", evidence=1, conditions=KEPT),
        "2026-11-09 20:00",
        "approve",
        "t8.return.within_7_days",
        {"shipping_paid_by": "merchant"},
        id="T8: return within 7 days of purchase",
    ),
    pytest.param(
        claim("return", "quality", evidence=1, conditions=KEPT),
        "2026-11-10 08:00",
        "reject",
        "t8.return.past_window",
        {"alternatives": ()},
        id="T8: day 8 after purchase is too late",
    ),
    pytest.param(
        claim("exchange", "quality", evidence=1),
        "2026-11-06 08:00",
        "reject",
        "t8.exchange.within_7_days.conditions",
        {"conditions_required": KEPT},
        id="T8: complete with accessories and packaging",
    ),
    pytest.param(
        claim("exchange", "size_colour", conditions=KEPT),
        "2026-11-06 08:00",
        "approve",
        "t8.exchange.within_7_days",
        {"shipping_paid_by": "customer"},
        id="T8: exchange within 7 days (size: the customer pays, law default)",
    ),
    pytest.param(
        claim("return", "quality", evidence=1, conditions=KEPT, deliberate_damage=True),
        "2026-11-06 08:00",
        "reject",
        "t8.escalation.deliberate_damage",
        {"alternatives": ()},
        id="T8: false proof or deliberate damage, service refused",
    ),
    pytest.param(
        claim("refund", "transit_damage", evidence=1),
        "2026-11-05 09:00",
        "needs_agent",
        "t8.refund.transit_24h",
        {"deadline": "2026-11-06T09:00"},
        id="T8: carrier compensation is handled by a person",
    ),
]


@pytest.mark.parametrize(("request_", "now", "outcome", "rule", "fields"), CASES)
def test_t8(request_: Claim, now: str, outcome: str, rule: str, fields: dict) -> None:
    expect(policy.decide(request_, at(now)), outcome, rule, **fields)


def test_t8_clocks_in_hours() -> None:
    start = at("2026-11-07 10:00")  # Saturday: hours run on weekends too
    assert policy.sla_deadline("first_reply", start) == at("2026-11-08 10:00")
    assert policy.sla_deadline("refund_after_receipt", start) == at("2026-11-09 10:00")
    assert policy.sla_action("first_reply") == "escalate"
