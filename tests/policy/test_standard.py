"""The standard profile: PRC consumer law art. 25 and 三包, plus our own defaults.

Bought Mon 2 Nov 2026, delivered Wed 4 Nov: 7 days end 11 Nov, 15 days end 19 Nov.
"""

from __future__ import annotations

import pytest

from dialogs.policy import Claim, EvidenceNeed, load_policy
from dialogs.texts import Texts
from storage.domain import Category
from tests.policy.helpers import at, claim, expect, item

policy = load_policy("standard")
COMPLETE = ("accessories_complete",)
UNDELIVERED = item(delivered=None, shipped="2026-11-03 09:00")

CASES = [
    pytest.param(
        claim("return", "no_reason", conditions=COMPLETE),
        "2026-11-11 20:00",
        "approve",
        "standard.return.no_reason",
        {"shipping_paid_by": "customer", "deadline": "2026-11-18T23:59", "next_step": "ship_back"},
        id="Law art. 25: no-reason return within 7 days of receipt, customer pays shipping",
    ),
    pytest.param(
        claim("return", "no_reason", item(category="electronics"), conditions=COMPLETE),
        "2026-11-12 08:00",
        "reject",
        "standard.return.past_window",
        {"alternatives": ("exchange", "repair")},
        id="Law art. 25: day 8 is too late; exchange or repair may remain",
    ),
    pytest.param(
        claim("return", "no_reason", conditions=COMPLETE),
        "2026-11-12 08:00",
        "reject",
        "standard.return.past_window",
        {"alternatives": ("exchange",)},
        id="三包: clothing carries no warranty, so past day 7 no repair is pointed to",
    ),
    pytest.param(
        claim("return", "no_reason", item(category="custom_made"), conditions=COMPLETE),
        "2026-11-06 08:00",
        "reject",
        "law.no_reason.excluded_category",
        {},
        id="Law art. 25: custom-made goods excluded from no-reason return",
    ),
    pytest.param(
        claim("return", "no_reason", item(category="periodicals"), conditions=COMPLETE),
        "2026-11-06 08:00",
        "reject",
        "law.no_reason.excluded_category",
        {},
        id="Law art. 25: newspapers and periodicals excluded",
    ),
    pytest.param(
        claim("return", "no_reason", item(category="hygiene"), conditions=COMPLETE),
        "2026-11-06 08:00",
        "reject",
        "standard.return.no_reason.conditions",
        {"conditions_required": ("unused", "packaging_intact")},
        id="Law: hygiene goods only when unused and sealed",
    ),
    pytest.param(
        claim("return", "quality", evidence=1),
        "2026-11-11 08:00",
        "approve",
        "standard.return.quality",
        {"shipping_paid_by": "merchant"},
        id="三包: quality return within 7 days, shop pays shipping",
    ),
    pytest.param(
        claim("return", "quality"),
        "2026-11-11 08:00",
        "reject",
        "standard.evidence.missing",
        {"evidence_required": EvidenceNeed("photo", 1)},
        id="Photos for quality problems",
    ),
    pytest.param(
        claim("exchange", "quality", evidence=1),
        "2026-11-19 20:00",
        "approve",
        "standard.exchange.quality",
        {"shipping_paid_by": "merchant"},
        id="三包: exchange within 15 days for a performance fault",
    ),
    pytest.param(
        claim("repair", "quality", item(category="electronics"), evidence=1),
        "2027-11-02 20:00",
        "approve",
        "standard.repair.warranty",
        {"shipping_paid_by": "merchant"},
        id="三包: electronics free repair within the one-year warranty",
    ),
    pytest.param(
        claim("repair", "quality", item(category="appliances"), evidence=1),
        "2027-11-02 20:00",
        "approve",
        "standard.repair.warranty",
        {"shipping_paid_by": "merchant"},
        id="三包: appliances free repair within the one-year warranty",
    ),
    pytest.param(
        claim("repair", "quality", item(category="electronics"), evidence=1),
        "2027-11-03 08:00",
        "needs_agent",
        "standard.repair.paid_repair_only",
        {"next_step": "await_review"},
        id="三包: after the one-year warranty a person quotes a paid repair",
    ),
    pytest.param(
        claim("repair", "quality", item(category="apparel"), evidence=1),
        "2026-11-06 08:00",
        "reject",
        "standard.category.apparel",
        {"alternatives": ("return", "exchange", "missing_parts")},
        id="三包: no repair warranty for clothing; socks are returned, not repaired",
    ),
    pytest.param(
        claim("repair", "quality", item(category="hygiene"), evidence=1),
        "2026-11-06 08:00",
        "reject",
        "standard.category.hygiene",
        {},
        id="三包: no repair warranty for hygiene goods",
    ),
    pytest.param(
        claim("repair", "quality", item(category="other"), evidence=1),
        "2026-11-06 08:00",
        "reject",
        "standard.category.other",
        {},
        id="Our choice: no warranty is known for other goods, so no free repair",
    ),
    pytest.param(
        claim("exchange", "quality", item(price="6999.00"), evidence=1),
        "2026-11-06 08:00",
        "needs_agent",
        "standard.escalation.order_value",
        {"deadline": "2026-11-10T23:59", "shipping_paid_by": None},
        id="Orders over 5000 CNY go to a person (review in 2 working days)",
    ),
    pytest.param(
        claim("exchange", "quality", item(prior_claims=3), evidence=1),
        "2026-11-06 08:00",
        "needs_agent",
        "standard.escalation.repeat_claims",
        {},
        id="Repeat claims go to a person",
    ),
    pytest.param(
        claim("exchange", "quality", evidence=1, evidence_reused=True),
        "2026-11-06 08:00",
        "needs_agent",
        "standard.escalation.evidence_reused",
        {},
        id="Evidence reused from another case goes to a person",
    ),
    pytest.param(
        claim("exchange", "quality", evidence=1, deliberate_damage=True),
        "2026-11-06 08:00",
        "needs_agent",
        "standard.escalation.deliberate_damage",
        {},
        id="T18: reported man-made damage is checked by a person",
    ),
    pytest.param(
        claim("return", "quality", evidence=1, disputed=True),
        "2026-11-06 08:00",
        "needs_agent",
        "standard.escalation.disputed",
        {},
        id="T9: a disputed decision goes to a person",
    ),
    pytest.param(
        claim("return", "quality", item(category="fresh_food"), evidence=1),
        "2026-11-06 08:00",
        "needs_agent",
        "standard.escalation.high_risk",
        {},
        id="T3: fresh food is high-risk; a person looks at the claim",
    ),
    pytest.param(
        claim("refund", "not_received", UNDELIVERED),
        "2026-11-10 08:00",
        "approve",
        "standard.refund.not_received",
        {"shipping_paid_by": None, "next_step": "none"},
        id="Refund without return when the parcel never arrived",
    ),
    pytest.param(
        claim("refund", "not_received"),
        "2026-11-10 08:00",
        "needs_agent",
        "standard.not_received.marked_delivered",
        {},
        id="Not received although the carrier reports delivery: a person checks",
    ),
    pytest.param(
        claim("return", "quality", UNDELIVERED, evidence=1),
        "2026-11-10 08:00",
        "reject",
        "standard.not_delivered",
        {"alternatives": ("refund",)},
        id="No return before delivery; refund without return instead",
    ),
    pytest.param(
        claim("missing_parts", "missing_parts", evidence=1),
        "2026-11-10 08:00",
        "approve",
        "standard.missing_parts.reship",
        {"shipping_paid_by": None},
        id="T6: missing parts reshipped, with a photo of what arrived",
    ),
    pytest.param(
        # The category's one `rule` is reported for all its exclusions.
        claim("missing_parts", "missing_parts", item(category="digital"), evidence=1),
        "2026-11-10 08:00",
        "reject",
        "law.no_reason.excluded_category",
        {"alternatives": ("return", "exchange")},
        id="T6: parts and gifts are reshipped goods; a music voucher code has none",
    ),
]


@pytest.mark.parametrize(("request_", "now", "outcome", "rule", "fields"), CASES)
def test_standard(request_: Claim, now: str, outcome: str, rule: str, fields: dict) -> None:
    expect(policy.decide(request_, at(now)), outcome, rule, **fields)


WARRANTY = {"electronics": "2027-11-02", "appliances": "2027-11-02"}  # 三包: one year


@pytest.mark.parametrize("category", list(Category))
def test_repair_is_offered_only_where_a_warranty_applies(category: str) -> None:
    """The menu of a delivered item: repair for the warranty categories only, and every other
    category of the closed set says why (a category added later must decide too)."""
    menu = {o.service: o for o in policy.options(item(category=category), at("2026-11-06 10:00"))}
    repair = menu["repair"]
    if category in WARRANTY:
        assert repair.available and repair.deadline is not None
        assert repair.deadline.date().isoformat() == WARRANTY[category]
    else:
        assert not repair.available
        assert repair.explanation is not None
        assert repair.explanation.key == "policy/category_excluded"


def test_socks_say_repair_is_not_available() -> None:
    menu = {o.service: o for o in policy.options(item(), at("2026-11-06 10:00"))}
    explanation = menu["repair"].explanation
    assert explanation is not None
    text = Texts().render("en", explanation.key, **explanation.values)
    assert text == "Sorry, repair is not available for clothing."


@pytest.mark.parametrize("category", list(Category))
def test_missing_parts_only_for_physical_goods(category: str) -> None:
    """Digital goods are the only ones of the closed set that are not physical."""
    menu = {o.service: o for o in policy.options(item(category=category), at("2026-11-06 10:00"))}
    option = menu["missing_parts"]
    assert option.available == (category != "digital")
    if category == "digital":
        assert option.explanation is not None
        assert option.explanation.key == "policy/category_excluded"


def test_unknown_service_is_explained() -> None:
    decision = policy.decide(claim("compensation", "quality", evidence=1), at("2026-11-06 08:00"))
    expect(decision, "reject", "standard.service.not_offered")
    assert decision.explanation.key == "policy/service_not_offered"
