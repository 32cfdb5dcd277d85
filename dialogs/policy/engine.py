"""The policy engine: what a shop's profile allows for one item now, and the decision on a claim.

Pure and synchronous: no I/O after loading, so the conversation can ask it on every step.
Semantics are documented in docs/policy.md; rule ids are "<profile>.<service>.<tier>" etc.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from dialogs.policy.calendar import WorkingCalendar
from dialogs.policy.schema import (
    CategorySpec,
    Clock,
    ClockDuration,
    Duration,
    PolicyFile,
    ServiceSpec,
    Window,
)
from dialogs.policy.types import (
    Claim,
    Decision,
    EvidenceNeed,
    ItemFacts,
    Message,
    ServiceOption,
)

NOT_RECEIVED = "not_received"
V = TypeVar("V")
D = TypeVar("D")
_NO_CATEGORY = CategorySpec()


@dataclass(frozen=True)
class _Tier:
    id: str
    window: Window
    not_before: Duration | None
    conditions: tuple[str, ...]
    reasons: frozenset[str] | None
    outcome: str

    def covers(self, reason: str) -> bool:
        return self.reasons is None or reason in self.reasons


@dataclass(frozen=True)
class _Scan:
    """Where an item stands against one service's tiers, for a set of reasons."""

    approve_open: tuple[datetime, ...]
    agent_open: tuple[datetime, ...]
    latest: datetime | None  # latest deadline of any tier, open or not
    anchor_missing: bool
    opens_at: datetime | None  # earliest opening of a tier that is not open yet


# Services after which the shop sends the customer something.
SENDS_SOMETHING = ("exchange", "repair", "missing_parts")


class Policy:
    """A loaded, validated profile. Build it with `load_policy`."""

    def __init__(self, spec: PolicyFile) -> None:
        self.spec = spec
        self.name = spec.name
        self.timezone = spec.timezone
        self.currency = spec.currency
        self.evidence_max_mb = spec.evidence_max_mb
        self.retention_days = spec.retention_days
        self.repeat_claims_days = spec.escalation.repeat_claims_days
        self.calendar = WorkingCalendar(
            spec.timezone,
            spec.calendar.extra_holidays,
            spec.calendar.extra_working_days,
            country=spec.calendar.country,
            hours=(spec.calendar.working_hours.start, spec.calendar.working_hours.end),
        )
        # What the loader found worth telling about the file (`policy validate` prints it).
        # Years without a holiday schedule are not kept here for the bot: the calendar logs
        # one when a working-day count reaches it.
        self.warnings: list[str] = []
        # Plain str-keyed views: callers ask with any string, the schema keys are Literals.
        self._services: dict[str, ServiceSpec] = dict(spec.services)
        self._categories: dict[str, CategorySpec] = dict(spec.categories)
        self._sla: dict[str, Clock] = dict(spec.sla)
        self._tiers: dict[tuple[str, str], tuple[_Tier, ...]] = {}

    # ---- what the menu shows ------------------------------------------------------------

    def services(self) -> list[str]:
        return list(self._services)

    def reasons(self, service: str, category: str) -> list[str]:
        svc = self._services.get(service)
        if svc is None:
            return []
        cat = self._category(category)
        if service in cat.exclude_services:
            return []
        excluded = set(_get(cat.exclude_reasons, service, ()))
        return [r for r in svc.reasons if r not in excluded]

    def options(self, item: ItemFacts, now: datetime) -> list[ServiceOption]:
        now = self.calendar.local(now)
        return [self._option(service, item, now) for service in self._services]

    def conditions(self, service: str, reason: str, item: ItemFacts, now: datetime) -> list[str]:
        now = self.calendar.local(now)
        if reason not in self.reasons(service, item.category):
            return []
        for tier in self._service_tiers(service, item.category):
            if not tier.covers(reason):
                continue
            deadline = self._deadline(item, tier.window)
            if deadline is not None and now <= deadline and not self._not_yet(item, tier, now):
                return list(self._needed(tier, reason, item.category))
        return []

    def evidence(self, service: str, reason: str, category: str) -> EvidenceNeed | None:
        svc = self._services.get(service)
        if svc is None:
            return None
        spec = svc.evidence[reason] if reason in svc.evidence else svc.evidence.get("default")
        if spec is None:
            return None
        return EvidenceNeed(spec.kind, spec.count, spec.proof_of_purchase)

    # ---- service-level clocks -----------------------------------------------------------

    def sla_deadline(self, clock: str, start: datetime, payment: str = "online") -> datetime | None:
        spec = self._sla.get(clock)
        if spec is None:
            return None
        length: Clock | ClockDuration = _get(spec.by_payment, payment, None) or spec
        return self.calendar.add(start, length.length, length.unit)

    def sla_action(self, clock: str) -> str | None:
        spec = self._sla.get(clock)
        return None if spec is None else spec.on_expiry

    # ---- the decision -------------------------------------------------------------------

    def decide(self, claim: Claim, now: datetime) -> Decision:
        now = self.calendar.local(now)
        item, service, reason = claim.item, claim.service, claim.reason
        p = self.name
        base = {"service": service, "reason": reason, "category": item.category}
        svc = self._services.get(service)
        if svc is None:
            return self._reject(
                f"{p}.service.not_offered", "policy/service_not_offered", base, claim, now
            )
        cat = self._category(item.category)
        excluded_reason = reason in _get(cat.exclude_reasons, service, ())
        if service in cat.exclude_services or excluded_reason:
            rule = cat.rule or f"{p}.category.{item.category}"
            values = {**base, "whole_service": not excluded_reason}
            return self._reject(rule, "policy/category_excluded", values, claim, now)
        if reason not in svc.reasons:
            return self._reject(
                f"{p}.{service}.reason_not_allowed", "policy/reason_not_allowed", base, claim, now
            )
        esc = self.spec.escalation
        if claim.deliberate_damage:
            rule = f"{p}.escalation.deliberate_damage"
            if esc.deliberate_damage == "reject":
                return self._reject(rule, "policy/refused_deliberate_damage", base, claim, now, ())
            return self._to_agent((rule,), "deliberate_damage", base, claim, now)
        if claim.disputed:
            return self._to_agent((f"{p}.escalation.disputed",), "disputed", base, claim, now)

        delivered = item.delivered_at is not None
        if reason == NOT_RECEIVED and delivered:
            values = {**base, "delivered_at": item.delivered_at}
            rule = f"{p}.not_received.marked_delivered"
            return self._to_agent((rule,), "marked_delivered", values, claim, now)
        if reason != NOT_RECEIVED and not delivered:
            values = {**base, "anchor": "delivery"}
            return self._reject(f"{p}.not_delivered", "policy/not_delivered", values, claim, now)

        matched, lacking, not_yet, latest, anchor = self._match(claim, now)
        if matched is None:
            if lacking is not None:
                tier, missing = lacking
                alternatives = self._alternatives(item, now, service)
                return Decision(
                    outcome="reject",
                    rules=(f"{p}.{service}.{tier.id}.conditions",),
                    explanation=Message(
                        "policy/conditions_missing",
                        {**base, "conditions": list(missing), "alternatives": list(alternatives)},
                    ),
                    alternatives=alternatives,
                    conditions_required=missing,
                    next_step="none",
                )
            if not_yet is not None:
                tier, opens_at = not_yet
                values = {**base, "opens_at": opens_at}
                rule = f"{p}.{service}.{tier.id}.not_yet_open"
                return self._reject(rule, "policy/not_yet_open", values, claim, now)
            if latest is None:
                values = {**base, "anchor": anchor or "delivery"}
                rule = f"{p}.not_delivered"
                return self._reject(rule, "policy/not_delivered", values, claim, now)
            return self._past_window(svc, claim, now, latest, base)

        tier_rule = f"{p}.{service}.{matched.id}"
        need = self.evidence(service, reason, item.category)
        if need is not None and claim.evidence_count < need.count:
            values = {
                **base,
                "kind": need.kind,
                "count": need.count,
                "have": claim.evidence_count,
                "proof_of_purchase": need.proof_of_purchase,
            }
            return Decision(
                outcome="reject",
                rules=(f"{p}.evidence.missing", tier_rule),
                explanation=Message("policy/evidence_missing", values),
                evidence_required=need,
                next_step="none",
            )

        fired: list[tuple[str, str]] = []
        if claim.evidence_reused:
            rule = f"{p}.escalation.evidence_reused"
            if esc.evidence_reused == "reject":
                return self._reject(rule, "policy/refused_evidence_reused", base, claim, now, ())
            fired.append((rule, "evidence_reused"))
        value = item.order_value if item.order_value is not None else item.price
        if esc.order_value_over is not None and value is not None and value > esc.order_value_over:
            fired.append((f"{p}.escalation.order_value", "order_value"))
        if esc.repeat_claims is not None and item.prior_claims >= esc.repeat_claims:
            fired.append((f"{p}.escalation.repeat_claims", "repeat_claims"))
        if esc.high_risk and cat.high_risk:
            fired.append((f"{p}.escalation.high_risk", "high_risk"))
        if matched.outcome == "needs_agent":
            fired.insert(0, (tier_rule, "grace_tier"))
        elif fired:
            fired.insert(0, (tier_rule, ""))
        if fired:
            rules = tuple(rule for rule, _ in fired)
            cause = next(c for _, c in fired if c)
            return self._to_agent(rules, cause, base, claim, now, threshold=esc.order_value_over)
        return self._approve(svc, tier_rule, claim, now, base)

    # ---- decision builders --------------------------------------------------------------

    def _approve(
        self, svc: ServiceSpec, rule: str, claim: Claim, now: datetime, base: dict[str, object]
    ) -> Decision:
        payer = None
        if svc.goods_back:
            payer = _get(svc.shipping, claim.reason, None) or svc.shipping.get("default")
            deadline = self.sla_deadline("ship_back", now) or self.sla_deadline("review", now)
            next_step = "ship_back"
        else:
            deadline = self.sla_deadline("review", now)
            next_step = "none"
        replacement = None
        if claim.service in SENDS_SOMETHING:
            replacement = (_get(svc.replacement_shipping, claim.reason, None)
                           or svc.replacement_shipping.get("default") or "merchant")  # fmt: skip
        values = {
            **base,
            "goods_back": svc.goods_back,
            "shipping_paid_by": payer,
            "replacement_paid_by": replacement,
            "return_method": svc.return_method,
            "deadline": deadline,
        }
        return Decision(
            outcome="approve",
            rules=(rule,),
            explanation=Message("policy/approved", values),
            shipping_paid_by=payer,
            replacement_paid_by=replacement,
            deadline=deadline,
            next_step=next_step,
        )

    def _to_agent(
        self,
        rules: tuple[str, ...],
        cause: str,
        base: dict[str, object],
        claim: Claim,
        now: datetime,
        threshold: Decimal | None = None,
    ) -> Decision:
        deadline = self.sla_deadline("review", now, claim.item.payment)
        values = {**base, "cause": cause, "deadline": deadline}
        if cause == "order_value" and threshold is not None:
            values["threshold"] = threshold
            values["currency"] = self.currency
        return Decision(
            outcome="needs_agent",
            rules=rules,
            explanation=Message("policy/needs_agent", values),
            deadline=deadline,
            next_step="await_review",
        )

    def _reject(
        self,
        rule: str,
        key: str,
        values: dict[str, object],
        claim: Claim,
        now: datetime,
        alternatives: tuple[str, ...] | None = None,
    ) -> Decision:
        if alternatives is None:
            alternatives = self._alternatives(claim.item, now, claim.service)
        return Decision(
            outcome="reject",
            rules=(rule,),
            explanation=Message(key, {**values, "alternatives": list(alternatives)}),
            alternatives=alternatives,
            next_step="none",
        )

    def _past_window(
        self,
        svc: ServiceSpec,
        claim: Claim,
        now: datetime,
        latest: datetime,
        base: dict[str, object],
    ) -> Decision:
        pw = svc.past_window
        rule = f"{self.name}.{claim.service}.{pw.rule}"
        values = {**base, "deadline": latest}
        if pw.action == "needs_agent":
            return self._to_agent((rule,), pw.rule, values, claim, now)
        if pw.action == "offer":
            offered = {s for s in pw.offer if self._option(s, claim.item, now).available}
            alternatives = tuple(s for s in self._services if s in offered)
        else:
            alternatives = self._alternatives(claim.item, now, claim.service)
        return self._reject(rule, "policy/window_passed", values, claim, now, alternatives)

    # ---- tiers and windows --------------------------------------------------------------

    def _match(
        self, claim: Claim, now: datetime
    ) -> tuple[
        _Tier | None,
        tuple[_Tier, tuple[str, ...]] | None,
        tuple[_Tier, datetime] | None,
        datetime | None,
        str | None,
    ]:
        """First tier that applies now; else the first open tier lacking conditions, the first
        tier not open yet, the latest deadline seen and a missing anchor (undelivered item on a
        delivery window)."""
        lacking: tuple[_Tier, tuple[str, ...]] | None = None
        not_yet: tuple[_Tier, datetime] | None = None
        latest: datetime | None = None
        missing_anchor: str | None = None
        for tier in self._service_tiers(claim.service, claim.item.category):
            if not tier.covers(claim.reason):
                continue
            deadline = self._deadline(claim.item, tier.window)
            if deadline is None:
                missing_anchor = tier.window.anchor
                continue
            latest = deadline if latest is None else max(latest, deadline)
            if now > deadline:
                continue
            opens_at = self._not_yet(claim.item, tier, now)
            if opens_at is not None:
                not_yet = not_yet or (tier, opens_at)
                continue
            need = self._needed(tier, claim.reason, claim.item.category)
            missing = tuple(c for c in need if c not in claim.conditions)
            if missing:
                lacking = lacking or (tier, missing)
                continue
            return tier, None, None, latest, missing_anchor
        return None, lacking, not_yet, latest, missing_anchor

    def _option(self, service: str, item: ItemFacts, now: datetime) -> ServiceOption:
        # Same value names as the decision's messages, so one template serves both.
        base = {"service": service, "reason": "", "category": item.category, "alternatives": []}
        allowed = self.reasons(service, item.category)
        if not allowed:
            values = {**base, "whole_service": True}
            return ServiceOption(service, False, None, Message("policy/category_excluded", values))
        delivered = item.delivered_at is not None
        usable = {r for r in allowed if (r == NOT_RECEIVED) != delivered}
        if not usable:
            if delivered:
                values = {**base, "delivered_at": item.delivered_at}
                return ServiceOption(
                    service, False, None, Message("policy/already_delivered", values)
                )
            values = {**base, "anchor": "delivery"}
            return ServiceOption(service, False, None, Message("policy/not_delivered", values))
        scan = self._scan(service, item, now, usable)
        if scan.approve_open:
            return ServiceOption(service, True, max(scan.approve_open))
        if scan.agent_open:
            return ServiceOption(service, True, max(scan.agent_open), needs_agent=True)
        if scan.opens_at is not None:
            values = {**base, "opens_at": scan.opens_at}
            return ServiceOption(service, False, None, Message("policy/not_yet_open", values))
        if scan.latest is None:
            values = {**base, "anchor": "delivery"}
            return ServiceOption(service, False, None, Message("policy/not_delivered", values))
        if self._services[service].past_window.action == "needs_agent":
            return ServiceOption(service, True, None, needs_agent=True)
        values = {**base, "deadline": scan.latest}
        return ServiceOption(service, False, scan.latest, Message("policy/window_passed", values))

    def _scan(self, service: str, item: ItemFacts, now: datetime, reasons: set[str]) -> _Scan:
        approve: list[datetime] = []
        agent: list[datetime] = []
        latest: datetime | None = None
        missing = False
        opens: datetime | None = None
        for tier in self._service_tiers(service, item.category):
            if tier.reasons is not None and not tier.reasons & reasons:
                continue
            deadline = self._deadline(item, tier.window)
            if deadline is None:
                missing = True
                continue
            latest = deadline if latest is None else max(latest, deadline)
            if now > deadline:
                continue
            opens_at = self._not_yet(item, tier, now)
            if opens_at is not None:
                opens = opens_at if opens is None else min(opens, opens_at)
            else:
                (approve if tier.outcome == "approve" else agent).append(deadline)
        return _Scan(tuple(approve), tuple(agent), latest, missing, opens)

    def _alternatives(self, item: ItemFacts, now: datetime, exclude: str) -> tuple[str, ...]:
        """Other services open now for this item. Not filtered by the reason: the customer picks
        a service first and then a reason, and a refused no-reason return may well turn into a
        size exchange."""
        out: list[str] = []
        for service in self._services:
            if service == exclude:
                continue
            if self._option(service, item, now).available:
                out.append(service)
        return tuple(out)

    def _service_tiers(self, service: str, category: str) -> tuple[_Tier, ...]:
        key = (service, category)
        cached = self._tiers.get(key)
        if cached is not None:
            return cached
        svc = self._services.get(service)
        tiers: list[_Tier] = []
        if svc is not None:
            warranty = self._category(category).warranty if service == "repair" else None
            for i, t in enumerate(svc.tiers):
                window = t.window
                if i == 0 and warranty is not None:
                    window = Window(
                        anchor=window.anchor, length=warranty.length, unit=warranty.unit
                    )
                tiers.append(
                    _Tier(
                        id=t.id or f"tier{i + 1}",
                        window=window,
                        not_before=t.not_before,
                        conditions=tuple(t.conditions),
                        reasons=None if t.reasons is None else frozenset(t.reasons),
                        outcome=t.outcome,
                    )
                )
        result = tuple(tiers)
        self._tiers[key] = result
        return result

    def _needed(self, tier: _Tier, reason: str, category: str) -> tuple[str, ...]:
        extra = _get(self._category(category).conditions, reason, ())
        return tier.conditions + tuple(c for c in extra if c not in tier.conditions)

    def _deadline(self, item: ItemFacts, window: Window) -> datetime | None:
        start = _anchor(item, window.anchor)
        if start is None:
            return None
        return self.calendar.add(start, window.length, window.unit)

    def _not_yet(self, item: ItemFacts, tier: _Tier, now: datetime) -> datetime | None:
        """When the tier opens, if it is not open yet."""
        if tier.not_before is None:
            return None
        start = _anchor(item, tier.window.anchor)
        if start is None:
            return None
        opens_at = self.calendar.add(start, tier.not_before.length, tier.not_before.unit)
        return opens_at if now <= opens_at else None

    def _category(self, category: str) -> CategorySpec:
        return self._categories.get(category, _NO_CATEGORY)


def _get(mapping: Mapping[Any, V], key: str, default: D) -> V | D:
    """Look a plain string up in a Literal-keyed mapping from the schema."""
    return mapping.get(key, default)


def _anchor(item: ItemFacts, anchor: str) -> datetime | None:
    if anchor == "purchase":
        return item.purchased_at
    if anchor == "payment":
        # COD orders are paid on delivery; until then the order time is the fair start.
        return item.paid_at or item.purchased_at
    if anchor == "shipment":
        return item.shipped_at
    if anchor == "delivery":
        return item.delivered_at
    return item.discovered_at or item.delivered_at
