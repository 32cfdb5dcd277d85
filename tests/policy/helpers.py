"""Small factories for policy tests: Shanghai times, items and claims."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from dialogs.policy import Claim, Decision, ItemFacts

PURCHASED = "2026-11-02 10:00"  # a Monday
DELIVERED = "2026-11-04 15:00"  # Wednesday


def at(text: str) -> datetime:
    """'2026-11-04 15:00' in Shanghai time."""
    return datetime.fromisoformat(f"{text.replace(' ', 'T')}:00+08:00")


def item(
    category: str = "apparel",
    purchased: str = PURCHASED,
    delivered: str | None = DELIVERED,
    shipped: str | None = None,
    price: str | None = "199.00",
    payment: str = "online",
    prior_claims: int = 0,
) -> ItemFacts:
    return ItemFacts(
        category=category,
        purchased_at=at(purchased),
        paid_at=at(purchased),
        shipped_at=at(shipped) if shipped else (at(purchased) if delivered else None),
        delivered_at=at(delivered) if delivered else None,
        payment=payment,
        price=Decimal(price) if price else None,
        order_value=Decimal(price) if price else None,
        prior_claims=prior_claims,
    )


def claim(
    service: str,
    reason: str,
    facts: ItemFacts | None = None,
    evidence: int = 0,
    conditions: tuple[str, ...] = (),
    **flags: bool,
) -> Claim:
    return Claim(
        item=facts or item(),
        service=service,
        reason=reason,
        evidence_count=evidence,
        conditions=frozenset(conditions),
        **flags,
    )


def with_category(facts: ItemFacts, category: str) -> ItemFacts:
    return replace(facts, category=category)


ALL_CONDITIONS = ("unused", "packaging_intact", "accessories_complete", "tags_attached")


def expect(decision: Decision, outcome: str, rule: str, **fields: object) -> None:
    """Assert a decision: outcome, one rule id among those that fired, and chosen fields.

    `deadline` is compared as an ISO prefix ("2026-11-13" or "2026-11-13T23:59"); every other
    field by equality with the Decision attribute.
    """
    assert decision.outcome == outcome, decision
    assert rule in decision.rules, decision.rules
    for name, wanted in fields.items():
        actual = getattr(decision, name)
        if name == "deadline" and isinstance(wanted, str):
            assert actual is not None, decision
            assert actual.isoformat().startswith(wanted), actual
        else:
            assert actual == wanted, (name, actual)
