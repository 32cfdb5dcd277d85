"""Profile T20 (电商平台售后服务政策及处理流程). Bought Mon 2 Nov 2026: the period ends 9 Nov."""

from __future__ import annotations

import pytest

from dialogs.policy import Claim, EvidenceNeed, load_policy
from tests.policy.helpers import at, claim, expect

policy = load_policy("t20")
SEALED = ("packaging_intact",)

CASES = [
    pytest.param(
        claim("return", "quality", evidence=1, conditions=SEALED),
        "2026-11-09 20:00",
        "approve",
        "t20.return.within_period",
        {"shipping_paid_by": "merchant", "deadline": "2026-11-10T20:00"},
        id="T20: quality return within 7 days from purchase; review within 24 h",
    ),
    pytest.param(
        claim("return", "no_reason", conditions=SEALED),
        "2026-11-06 10:00",
        "approve",
        "t20.return.within_period",
        {"shipping_paid_by": "customer"},
        id="T20: not a quality problem, return within the period, customer pays shipping",
    ),
    pytest.param(
        claim("exchange", "quality", evidence=1, conditions=SEALED),
        "2026-11-06 10:00",
        "approve",
        "t20.exchange.within_period",
        {"shipping_paid_by": "merchant"},
        id="T20: quality exchange for the same model within the period",
    ),
    pytest.param(
        claim("exchange", "size_colour", conditions=SEALED),
        "2026-11-06 10:00",
        "approve",
        "t20.exchange.within_period",
        {"shipping_paid_by": "customer"},
        id="T20: non-quality exchange, customer pays shipping",
    ),
    pytest.param(
        claim("return", "quality", evidence=1, conditions=SEALED),
        "2026-11-10 10:00",
        "reject",
        "t20.return.past_window",
        {"alternatives": ("repair",)},
        id="T20: after the period a quality problem is repaired",
    ),
    pytest.param(
        claim("repair", "quality", evidence=1),
        "2026-11-10 10:00",
        "approve",
        "t20.repair.after_period",
        {"shipping_paid_by": "merchant"},
        id="T20: repair after the period, with proof",
    ),
    pytest.param(
        claim("repair", "quality", evidence=1),
        "2026-11-05 10:00",
        "reject",
        "t20.repair.after_period.not_yet_open",
        {"alternatives": ("return", "exchange")},
        id="T20: within the period return or exchange, not repair",
    ),
    pytest.param(
        claim("repair", "quality"),
        "2026-11-10 10:00",
        "reject",
        "t20.evidence.missing",
        {"evidence_required": EvidenceNeed("proof_of_purchase", 1)},
        id="T20: repair needs proof",
    ),
    pytest.param(
        claim("repair", "size_colour"),
        "2026-11-10 10:00",
        "reject",
        "t20.repair.reason_not_allowed",
        {},
        id="T20: refuse with the reason explained (repair is for quality problems)",
    ),
]


@pytest.mark.parametrize(("request_", "now", "outcome", "rule", "fields"), CASES)
def test_t20(request_: Claim, now: str, outcome: str, rule: str, fields: dict) -> None:
    decision = policy.decide(request_, at(now))
    expect(decision, outcome, rule, **fields)
    assert decision.explanation.key.startswith("policy/")


def test_t20_repair_opens_after_the_period() -> None:
    from tests.policy.helpers import item

    options = {o.service: o for o in policy.options(item(), at("2026-11-05 10:00"))}
    assert not options["repair"].available
    assert options["repair"].explanation is not None
    assert options["repair"].explanation.key == "policy/not_yet_open"
    assert policy.conditions("repair", "quality", item(), at("2026-11-05 10:00")) == []
    later = {o.service: o for o in policy.options(item(), at("2026-11-10 10:00"))}
    assert later["repair"].available
    assert not later["return"].available
