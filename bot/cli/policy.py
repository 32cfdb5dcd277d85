"""`aftersales policy validate` and `aftersales policy check`: a merchant's dry run of a profile."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from dialogs.policy import Claim, ItemFacts, PolicyError, load_policy
from dialogs.policy.loader import resolve
from dialogs.texts import Texts


class _UsageError(Exception):
    pass


def validate(args: argparse.Namespace) -> int:
    _, shown = resolve(args.file)
    try:
        policy = load_policy(args.file)
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{shown}: ok")
    for warning in policy.warnings:
        print(f"{shown}: warning: {warning}")
    return 0


def check(args: argparse.Namespace) -> int:
    try:
        now = _instant(args.now, "--now") if args.now else datetime.now(UTC)
        price = _money(args.price)
        item = ItemFacts(
            category=args.category,
            purchased_at=_instant(args.purchased_at, "--purchased-at"),
            paid_at=_optional_instant(args.paid_at, "--paid-at"),
            shipped_at=_optional_instant(args.shipped_at, "--shipped-at"),
            delivered_at=_optional_instant(args.delivered_at, "--delivered-at"),
            payment=args.payment,
            price=price,
            order_value=price,
        )
    except _UsageError as exc:
        print(f"aftersales policy check: {exc}", file=sys.stderr)
        return 2
    try:
        policy = load_policy(args.profile, now=now)
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return 1
    claim = Claim(
        item=item,
        service=args.service,
        reason=args.reason,
        evidence_count=args.evidence,
        conditions=frozenset(args.condition),
    )
    decision = policy.decide(claim, now)
    texts = Texts(timezone=policy.timezone)
    out: dict[str, Any] = {"profile": policy.name, **decision.as_json()}
    msg = decision.explanation
    out["explanation"]["zh"] = texts.render("zh", msg.key, **msg.values)
    out["explanation"]["en"] = texts.render("en", msg.key, **msg.values)
    if decision.evidence_required is not None:
        out["evidence_required"]["proof_of_purchase"] = decision.evidence_required.proof_of_purchase
    out["warnings"] = policy.warnings
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
    else:
        _print_summary(out)
    return 0


def _print_summary(out: dict[str, Any]) -> None:
    print(f"decision: {out['decision']}  ({', '.join(out['rules'])})")
    print(f"  zh: {out['explanation']['zh']}".replace("\n", " "))
    print(f"  en: {out['explanation']['en']}".replace("\n", " "))
    if out["alternatives"]:
        print(f"alternatives: {', '.join(out['alternatives'])}")
    if out["shipping_paid_by"]:
        print(f"shipping paid by: {out['shipping_paid_by']}")
    if out["evidence_required"]:
        ev = out["evidence_required"]
        print(f"evidence required: {ev['count']} x {ev['kind']}")
    if out["conditions_required"]:
        print(f"conditions to confirm: {', '.join(out['conditions_required'])}")
    if out["deadline"]:
        print(f"deadline ({out['next_step']}): {out['deadline']}")
    for warning in out["warnings"]:
        print(f"warning: {warning}")


def _instant(text: str, flag: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _UsageError(f"{flag}: not an ISO 8601 time: {text!r}") from None
    if moment.tzinfo is None:
        raise _UsageError(f"{flag}: give a UTC offset, e.g. {text}+08:00")
    return moment


def _optional_instant(text: str | None, flag: str) -> datetime | None:
    return None if text is None else _instant(text, flag)


def _money(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise _UsageError(f"--price: not a number: {text!r}") from None
    if not value.is_finite() or value < 0:
        raise _UsageError(f"--price: not a price: {text!r}")
    return value
