"""`aftersales policy validate` and `aftersales policy check`: a merchant's dry run of a profile."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, overload

from dialogs.policy import Claim, ItemFacts, PolicyError, load_policy
from dialogs.policy.calendar import collecting_schedule_gaps
from dialogs.policy.loader import calendar_warning, resolve
from dialogs.texts import Texts


class _UsageError(Exception):
    pass


def validate(args: argparse.Namespace) -> int:
    _, shown = resolve(args.file)
    try:
        # With `now`: the coming year's missing holiday schedule is worth a warning here, so
        # the merchant can add its make-up days before a deadline falls in it.
        policy = load_policy(args.file, now=datetime.now(UTC))
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{shown}: ok")
    for warning in policy.warnings:
        print(f"{shown}: warning: {warning}")
    return 0


def check(args: argparse.Namespace) -> int:
    # Names were checked by the parser; times are parsed here and placed in the profile's time
    # zone once it is loaded, so a malformed one is still a usage error before the file is read.
    try:
        now_given = _optional_instant(args.now, "--now")
        purchased_at = _instant(args.purchased_at, "--purchased-at")
        paid_at = _optional_instant(args.paid_at, "--paid-at")
        shipped_at = _optional_instant(args.shipped_at, "--shipped-at")
        delivered_at = _optional_instant(args.delivered_at, "--delivered-at")
        price = _money(args.price)
    except _UsageError as exc:
        print(f"aftersales policy check: {exc}", file=sys.stderr)
        return 2
    try:
        # No `now`: the coming year's schedule is validate's business; this decision reports
        # only the gaps its own windows reach (below).
        policy = load_policy(args.profile)
    except PolicyError as exc:
        print(exc, file=sys.stderr)
        return 1
    tz = policy.calendar.tz
    now = _in_zone(now_given, tz) or datetime.now(UTC)
    item = ItemFacts(
        category=args.category,
        purchased_at=_in_zone(purchased_at, tz),
        paid_at=_in_zone(paid_at, tz),
        shipped_at=_in_zone(shipped_at, tz),
        delivered_at=_in_zone(delivered_at, tz),
        payment=args.payment,
        price=price,
        order_value=price,
    )
    claim = Claim(
        item=item,
        service=args.service,
        reason=args.reason,
        evidence_count=args.evidence,
        conditions=frozenset(args.condition),
    )
    # Collected, not logged: the gaps go into this command's output, once.
    with collecting_schedule_gaps() as gaps:
        decision = policy.decide(claim, now)
    texts = Texts(timezone=policy.timezone)
    out: dict[str, Any] = {"profile": policy.name, **decision.as_json()}
    msg = decision.explanation
    out["explanation"]["zh"] = texts.render("zh", msg.key, **msg.values)
    out["explanation"]["en"] = texts.render("en", msg.key, **msg.values)
    if decision.evidence_required is not None:
        out["evidence_required"]["proof_of_purchase"] = decision.evidence_required.proof_of_purchase
    out["warnings"] = [*policy.warnings, *(calendar_warning(c, y) for c, y in sorted(gaps))]
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
    """An ISO 8601 time; without an offset it stays naive, for the profile's zone to place."""
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise _UsageError(f"{flag}: not an ISO 8601 time: {text!r}") from None


def _optional_instant(text: str | None, flag: str) -> datetime | None:
    return None if text is None else _instant(text, flag)


@overload
def _in_zone(moment: datetime, tz: tzinfo) -> datetime: ...
@overload
def _in_zone(moment: None, tz: tzinfo) -> None: ...
def _in_zone(moment: datetime | None, tz: tzinfo) -> datetime | None:
    """A time without an offset is the shop's wall clock, the one the profile counts days in;
    one with an offset is taken as given."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=tz)


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
