"""The service menu for one item: what is open now, until when, and why not."""

from __future__ import annotations

import json

import pytest

from dialogs.policy import EvidenceNeed, ServiceOption, load_policy
from dialogs.texts import Texts
from tests.policy.helpers import at, item

standard = load_policy("standard")
t12 = load_policy("t12")
texts = Texts()


def _menu(policy_name: str, facts: object, now: str) -> dict[str, ServiceOption]:
    policy = load_policy(policy_name)
    return {o.service: o for o in policy.options(facts, at(now))}  # type: ignore[arg-type]


def test_standard_menu_for_delivered_clothing() -> None:
    menu = _menu("standard", item(), "2026-11-06 10:00")
    assert list(menu) == ["return", "exchange", "repair", "refund", "missing_parts"]
    assert menu["return"].available
    assert menu["return"].deadline.isoformat() == "2026-11-11T23:59:59.999000+08:00"
    # The latest deadline across tiers: size/colour 7 days, quality 15 days.
    assert menu["exchange"].deadline.date().isoformat() == "2026-11-19"
    assert not menu["repair"].available  # no 三包 warranty for clothing
    assert not menu["refund"].available
    assert menu["refund"].explanation.key == "policy/already_delivered"


def test_t12_deadline_includes_the_conditional_tier() -> None:
    menu = _menu("t12", item(), "2026-11-06 10:00")
    assert menu["return"].deadline.date().isoformat() == "2026-11-19"
    assert not menu["return"].needs_agent


def test_t12_past_all_tiers_a_person_decides() -> None:
    menu = _menu("t12", item(), "2026-11-25 10:00")
    assert menu["return"].available and menu["return"].needs_agent
    assert menu["return"].deadline is None
    assert not menu["exchange"].available
    assert menu["exchange"].explanation.key == "policy/window_passed"
    assert menu["exchange"].explanation.values["deadline"].date().isoformat() == "2026-11-17"


def test_window_passed_names_the_date() -> None:
    menu = _menu("t2", item(), "2026-11-20 10:00")
    option = menu["return"]
    assert not option.available
    assert option.deadline.date().isoformat() == "2026-11-13"
    assert "2026年11月13日" in texts.render(
        "zh", option.explanation.key, **option.explanation.values
    )
    assert "Nov 13, 2026" in texts.render("en", option.explanation.key, **option.explanation.values)


def test_excluded_category_is_explained() -> None:
    menu = _menu("standard", item(category="digital"), "2026-11-06 10:00")
    assert not menu["repair"].available
    assert menu["repair"].explanation.key == "policy/category_excluded"
    en = texts.render("en", "policy/category_excluded", **menu["repair"].explanation.values)
    assert en == "Sorry, repair is not available for digital goods."
    # Return stays open for the shop's own faults, without the no-reason options.
    assert menu["return"].available
    assert standard.reasons("return", "digital") == [
        "quality",
        "not_as_described",
        "transit_damage",
        "wrong_item",
    ]


def test_t16_custom_made_has_no_exchange() -> None:
    menu = _menu("t16", item(category="custom_made"), "2026-11-06 10:00")
    assert not menu["exchange"].available
    assert menu["exchange"].explanation.key == "policy/category_excluded"


def test_undelivered_order_offers_refund_only() -> None:
    # Electronics: every service but the refund is closed only for want of a delivery.
    facts = item(category="electronics", delivered=None, shipped="2026-11-03 09:00")
    menu = _menu("standard", facts, "2026-11-06 10:00")
    assert menu["refund"].available
    assert menu["refund"].deadline.date().isoformat() == "2026-12-02"
    for service in ("return", "exchange", "repair", "missing_parts"):
        assert not menu[service].available
        assert menu[service].explanation.key == "policy/not_delivered"


def test_reasons_in_display_order() -> None:
    assert standard.reasons("return", "apparel")[:2] == ["no_reason", "size_colour"]
    assert standard.reasons("return", "custom_made")[0] == "quality"
    assert standard.reasons("teleport", "apparel") == []


def test_evidence_per_reason() -> None:
    assert standard.evidence("return", "quality", "apparel") == EvidenceNeed("photo", 1)
    assert standard.evidence("return", "no_reason", "apparel") is None
    assert standard.evidence("exchange", "size_colour", "apparel") is None  # default overridden
    assert standard.evidence("exchange", "wrong_item", "apparel") == EvidenceNeed("photo", 1)


def test_conditions_add_category_requirements() -> None:
    facts = item(category="hygiene")
    needed = standard.conditions("return", "no_reason", facts, at("2026-11-06 10:00"))
    assert needed == ["accessories_complete", "unused", "packaging_intact"]
    assert standard.conditions("return", "quality", facts, at("2026-11-06 10:00")) == []
    assert standard.conditions("return", "no_reason", facts, at("2026-11-20 10:00")) == []


def test_sla_clocks() -> None:
    start = at("2026-11-13 10:00")  # Friday
    assert standard.sla_deadline("review", start).date().isoformat() == "2026-11-17"
    assert standard.sla_action("review") == "escalate"
    assert standard.sla_action("ship_back") == "auto_close"
    assert standard.sla_deadline("nonexistent", start) is None
    assert standard.sla_action("nonexistent") is None


def test_warnings_name_years_without_official_schedule() -> None:
    policy = load_policy("standard", now=at("2026-06-01 10:00"))
    assert any("2027" in w for w in policy.warnings)
    assert not any("2026" in w for w in policy.warnings)


SAMPLE_ITEMS = [
    item(),
    item(category="custom_made"),
    item(category="digital"),
    item(category="electronics", price="8999.00"),
    item(delivered=None, shipped="2026-11-03 09:00"),
    item(delivered=None),
]
NOWS = ["2026-11-03 10:00", "2026-11-05 10:00", "2026-11-12 10:00", "2026-12-20 10:00"]
PROFILES = ["standard", "t2", "t5", "t8", "t12", "t16", "t20"]


@pytest.mark.parametrize("profile", PROFILES)
def test_every_explanation_renders_in_both_languages(profile: str) -> None:
    """Sweep options and decisions: every message renders, and decisions serialise to JSON."""
    from tests.policy.helpers import claim

    policy = load_policy(profile)
    reasons = [
        "no_reason",
        "quality",
        "not_as_described",
        "transit_damage",
        "wrong_item",
        "missing_parts",
        "size_colour",
        "not_received",
    ]
    seen: set[str] = set()
    kept = ("unused", "packaging_intact", "accessories_complete", "tags_attached")
    for facts in SAMPLE_ITEMS:
        for now in NOWS:
            for option in policy.options(facts, at(now)):
                if option.explanation is not None:
                    seen.add(option.explanation.key)
                    for loc in ("zh", "en"):
                        assert texts.render(
                            loc, option.explanation.key, **option.explanation.values
                        )
            for service in [*policy.services(), "compensation"]:
                for reason in reasons:
                    for flags in ({}, {"deliberate_damage": True}, {"evidence_reused": True}):
                        request_ = claim(
                            service, reason, facts, evidence=2, conditions=kept, **flags
                        )
                        decision = policy.decide(request_, at(now))
                        msg = decision.explanation
                        seen.add(msg.key)
                        for loc in ("zh", "en"):
                            text = texts.render(loc, msg.key, **msg.values)
                            assert text and "None" not in text, (msg, text)
                        json.dumps(decision.as_json(), ensure_ascii=False)
    assert "policy/approved" in seen
