"""Reading a policy file: YAML → schema models → cross-checks → Policy, or one clear error."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml
from pydantic import ValidationError

from dialogs.paths import POLICIES_DIR, PROJECT_ROOT
from dialogs.policy.calendar import schedule_gap_message
from dialogs.policy.engine import Policy
from dialogs.policy.schema import PolicyFile, Window

_RULE_SUFFIX = re.compile(r"^[a-z][a-z0-9_]*$")
# A warehouse code as the WAREHOUSES setting names it (checked against it at start).
WAREHOUSE_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# Rough lengths in hours, only to check that tiers with different units still grow.
_UNIT_HOURS = {"hours": 1.0, "days": 24.0, "working_days": 24.0 * 7 / 5}


class PolicyError(Exception):
    """A policy file that cannot be used; str() is one line per problem, "FILE: path: problem"."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [
            f"{source}: {path}: {msg}" if path else f"{source}: {msg}" for path, msg in problems
        ]
        super().__init__("\n".join(lines))


def resolve(name_or_path: str) -> tuple[Path, str]:
    """The file for a profile name or path, and how to name it in messages."""
    looks_like_path = "/" in name_or_path or name_or_path.endswith((".yaml", ".yml"))
    if looks_like_path:
        return Path(name_or_path), name_or_path
    path = POLICIES_DIR / f"{name_or_path}.yaml"
    try:
        shown = str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        shown = str(path)
    return path, shown


def load_policy(name_or_path: str, now: datetime | None = None) -> Policy:
    """Load and validate a profile.

    With `now` (as `policy validate` loads), Policy.warnings also names now's year and the next
    when they have no official holiday schedule, so a merchant can add the make-up days in time.
    The bot and `policy check` load without it: a gap is news only when a count reaches it, and
    then the calendar says so itself (see `dialogs.policy.calendar`).
    """
    path, shown = resolve(name_or_path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(shown, [("", "no such policy file")]) from None
    except OSError as exc:
        raise PolicyError(shown, [("", f"cannot read: {exc.strerror}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise PolicyError(shown, [(where, f"invalid YAML: {problem}")]) from None
    if not isinstance(data, dict):
        raise PolicyError(shown, [("", "expected a mapping of policy keys at the top level")])
    try:
        spec = PolicyFile.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(shown, [_describe(err) for err in exc.errors()]) from None
    problems = check(spec)
    if problems:
        raise PolicyError(shown, problems)
    policy = Policy(spec)
    if now is not None:
        current = policy.calendar.local(now).year
        for year in policy.calendar.missing_schedules([current, current + 1]):
            policy.warnings.append(calendar_warning(spec.calendar.country, year))
    return policy


def calendar_warning(country: str, year: int) -> str:
    """A calendar gap as a policy warning, named after the file's `calendar` key."""
    return f"calendar: {schedule_gap_message(country, year)}"


def _describe(err: Any) -> tuple[str, str]:
    loc = [str(p) for p in err["loc"] if p != "[key]"]
    path = ".".join(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        return path, "unknown key"
    if kind == "missing":
        return path, "required key is missing"
    if kind == "literal_error":
        expected = re.findall(r"'([^']*)'", err.get("ctx", {}).get("expected", ""))
        return path, f"expected one of {', '.join(expected)}"
    return path, str(err["msg"]).lower()


def check(spec: PolicyFile) -> list[tuple[str, str]]:
    """Rules the schema cannot express: positive lengths, growing tiers, names that exist."""
    problems: list[tuple[str, str]] = []
    add = problems.append
    if not _RULE_SUFFIX.match(spec.name):
        add(("name", "use lower-case letters, digits and underscores"))
    try:
        ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        add(("timezone", f"unknown time zone {spec.timezone!r}"))
    hours = spec.calendar.working_hours
    if hours.start >= hours.end:
        add(("calendar.working_hours", "start must be before end (within one day)"))
    if spec.calendar.country not in holidays.list_supported_countries():
        add(("calendar.country", f"unknown country code {spec.calendar.country!r}"))
    for name, svc in spec.services.items():
        base = f"services.{name}"
        if not svc.reasons:
            add((f"{base}.reasons", "list at least one reason"))
        if len(set(svc.reasons)) != len(svc.reasons):
            add((f"{base}.reasons", "a reason is listed twice"))
        if not svc.tiers:
            add((f"{base}.tiers", "list at least one tier"))
        seen_ids: set[str] = set()
        for i, tier in enumerate(svc.tiers):
            tpath = f"{base}.tiers.{i}"
            tid = tier.id or f"tier{i + 1}"
            if not _RULE_SUFFIX.match(tid):
                add((f"{tpath}.id", "use lower-case letters, digits and underscores"))
            if tid in seen_ids:
                add((f"{tpath}.id", f"duplicate tier id {tid!r}"))
            seen_ids.add(tid)
            if tier.window.length <= 0:
                add((f"{tpath}.window.length", "must be greater than 0"))
            nb = tier.not_before
            if nb is not None:
                if nb.length <= 0:
                    add((f"{tpath}.not_before.length", "must be greater than 0"))
                elif not _longer(tier.window, Window(anchor=tier.window.anchor, **nb.model_dump())):
                    add((f"{tpath}.not_before", "the tier would close before it opens"))
            for r in tier.reasons or ():
                if r not in svc.reasons:
                    add((f"{tpath}.reasons", f"{r} is not one of the service's reasons"))
            for j in range(i):
                earlier = svc.tiers[j]
                if _overlap(earlier.reasons, tier.reasons) and not _longer(
                    tier.window, earlier.window
                ):
                    add(
                        (
                            f"{tpath}.window",
                            f"tiers must grow: this window is not longer than tier {j}'s",
                        )
                    )
                    break
        pw = svc.past_window
        if not _RULE_SUFFIX.match(pw.rule):
            add((f"{base}.past_window.rule", "use lower-case letters, digits and underscores"))
        if pw.action == "offer" and not pw.offer:
            add((f"{base}.past_window.offer", "name the services to offer"))
        if pw.action != "offer" and pw.offer:
            add((f"{base}.past_window.offer", "only used with action: offer"))
        for other in pw.offer:
            if other not in spec.services:
                add((f"{base}.past_window.offer", f"{other} is not a service of this policy"))
            elif other == name:
                add((f"{base}.past_window.offer", "a service cannot offer itself"))
        for key, ev in svc.evidence.items():
            if key != "default" and key not in svc.reasons:
                add((f"{base}.evidence.{key}", "not one of the service's reasons"))
            if ev is not None and ev.count <= 0:
                add((f"{base}.evidence.{key}.count", "must be greater than 0"))
        for key in svc.shipping:
            if key != "default" and key not in svc.reasons:
                add((f"{base}.shipping.{key}", "not one of the service's reasons"))
        if svc.warehouse is not None and not WAREHOUSE_CODE.match(svc.warehouse):
            add((f"{base}.warehouse", _WAREHOUSE_CODE_PROBLEM))
        if svc.goods_back and "default" not in svc.shipping:
            missing = [r for r in svc.reasons if r not in svc.shipping]
            if missing:
                add((f"{base}.shipping", f"say who pays for {', '.join(missing)} (or a default)"))
    for cat, cs in spec.categories.items():
        base = f"categories.{cat}"
        for s in cs.exclude_services:
            if s not in spec.services:
                add((f"{base}.exclude_services", f"{s} is not a service of this policy"))
        for s, reasons in cs.exclude_reasons.items():
            if s not in spec.services:
                add((f"{base}.exclude_reasons.{s}", "not a service of this policy"))
                continue
            for r in reasons:
                if r not in spec.services[s].reasons:
                    add((f"{base}.exclude_reasons.{s}", f"{r} is not one of {s}'s reasons"))
        if cs.warehouse is not None and not WAREHOUSE_CODE.match(cs.warehouse):
            add((f"{base}.warehouse", _WAREHOUSE_CODE_PROBLEM))
        if cs.warranty is not None:
            if "repair" not in spec.services:
                add((f"{base}.warranty", "the policy has no repair service"))
            if cs.warranty.length <= 0:
                add((f"{base}.warranty.length", "must be greater than 0"))
    esc = spec.escalation
    if esc.order_value_over is not None and esc.order_value_over <= 0:
        add(("escalation.order_value_over", "must be greater than 0"))
    if esc.repeat_claims is not None and esc.repeat_claims <= 0:
        add(("escalation.repeat_claims", "must be greater than 0"))
    for clock, c in spec.sla.items():
        if c.length <= 0:
            add((f"sla.{clock}.length", "must be greater than 0"))
        for pay, d in c.by_payment.items():
            if d.length <= 0:
                add((f"sla.{clock}.by_payment.{pay}.length", "must be greater than 0"))
    return problems


_WAREHOUSE_CODE_PROBLEM = "a warehouse code: letters, digits, '_', '-' or '.' (at most 64)"


def warehouses_named(spec: PolicyFile) -> dict[str, str]:
    """The warehouse codes the profile names, by where it names them (for the check at start
    against the WAREHOUSES setting)."""
    named = {f"services.{n}.warehouse": s.warehouse for n, s in spec.services.items()}
    named |= {f"categories.{n}.warehouse": c.warehouse for n, c in spec.categories.items()}
    return {path: code for path, code in named.items() if code is not None}


def _overlap(a: list[str] | None, b: list[str] | None) -> bool:
    return a is None or b is None or bool(set(a) & set(b))


def _longer(later: Window, earlier: Window) -> bool:
    if later.anchor != earlier.anchor:
        return True  # different clocks: nothing sensible to compare
    if later.unit == earlier.unit:
        return later.length > earlier.length
    return later.length * _UNIT_HOURS[later.unit] > earlier.length * _UNIT_HOURS[earlier.unit]
