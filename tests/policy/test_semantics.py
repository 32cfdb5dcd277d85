"""Engine semantics on a small custom profile: anchors, grace tiers, category defaults."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from dialogs.policy import Policy, load_policy
from tests.policy.helpers import at, claim, expect, item

PROFILE = """\
name: shop
calendar:
  extra_holidays: [2026-11-11]
services:
  return:
    reasons: [quality, no_reason]
    tiers:
      - id: plain
        window: {anchor: discovery, length: 3, unit: working_days}
      - id: grace
        window: {anchor: discovery, length: 10, unit: working_days}
        outcome: needs_agent
    shipping: {default: merchant}
  exchange:
    reasons: [quality]
    tiers:
      - window: {anchor: payment, length: 48, unit: hours}
    shipping: {default: merchant}
  repair:
    reasons: [quality]
    tiers:
      - window: {anchor: purchase, length: 30, unit: days}
    shipping: {default: merchant}
categories:
  digital:
    exclude_services: [repair]
  electronics:
    warranty: {length: 2, unit: days}
    high_risk: true
escalation:
  high_risk: false
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Policy:
    path: Path = tmp_path_factory.mktemp("policy") / "shop.yaml"
    path.write_text(PROFILE, encoding="utf-8")
    return load_policy(str(path))


def test_discovery_anchor_and_shop_holiday(shop: Policy) -> None:
    # Found Tue 10 Nov; 11 Nov is the shop's holiday: 12, 13 and Mon 16 Nov are the 3 wd.
    facts = replace(item(), discovered_at=at("2026-11-10 09:00"))
    expect(
        shop.decide(claim("return", "quality", facts), at("2026-11-16 22:00")),
        "approve",
        "shop.return.plain",
    )
    expect(
        shop.decide(claim("return", "quality", facts), at("2026-11-17 09:00")),
        "needs_agent",
        "shop.return.grace",
        deadline=None,  # the profile has no review clock
        next_step="await_review",
    )


def test_discovery_falls_back_to_delivery(shop: Policy) -> None:
    # Delivered Wed 4 Nov: 3 working days end Mon 9 Nov.
    options = {o.service: o for o in shop.options(item(), at("2026-11-06 09:00"))}
    # The self-service deadline; the grace tier (a person decides) is not a deadline.
    assert options["return"].deadline.date().isoformat() == "2026-11-09"
    later = {o.service: o for o in shop.options(item(), at("2026-11-12 09:00"))}
    assert later["return"].available and later["return"].needs_agent


def test_payment_anchor_waits_for_cod_payment(shop: Policy) -> None:
    cod = replace(item(payment="cod"), paid_at=None)  # falls back to the order time
    expect(
        shop.decide(claim("exchange", "quality", cod), at("2026-11-04 09:59")),
        "approve",
        "shop.exchange.tier1",
    )
    expect(
        shop.decide(claim("exchange", "quality", cod), at("2026-11-04 10:01")),
        "reject",
        "shop.exchange.past_window",
    )


def test_category_defaults(shop: Policy) -> None:
    expect(
        shop.decide(claim("repair", "quality", item(category="digital")), at("2026-11-05 09:00")),
        "reject",
        "shop.category.digital",
    )
    # Electronics: own 2-day warranty replaces the 30 days; high risk ignored (escalation off).
    gadget = item(category="electronics")
    expect(
        shop.decide(claim("repair", "quality", gadget), at("2026-11-04 23:00")),
        "approve",
        "shop.repair.tier1",
    )
    expect(
        shop.decide(claim("repair", "quality", gadget), at("2026-11-05 09:00")),
        "reject",
        "shop.repair.past_window",
    )


def test_naive_now_is_local_time(shop: Policy) -> None:
    naive = at("2026-11-06 09:00").replace(tzinfo=None)
    assert shop.decide(claim("repair", "quality"), naive).outcome == "approve"
