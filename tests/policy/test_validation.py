"""Bad policy files fail at load time with "FILE: dotted.path: problem", never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs.paths import POLICIES_DIR
from dialogs.policy import PolicyError, load_policy

GOOD = """\
name: shop
services:
  return:
    reasons: [no_reason, quality]
    tiers:
      - window: {anchor: delivery, length: 7, unit: days}
      - window: {anchor: delivery, length: 15, unit: days}
        conditions: [packaging_intact]
    past_window: {action: offer, offer: [repair]}
    shipping: {default: customer, quality: merchant}
  repair:
    reasons: [quality]
    tiers:
      - window: {anchor: purchase, length: 180, unit: days}
    shipping: {default: merchant}
categories:
  custom_made:
    exclude_reasons: {return: [no_reason]}
  electronics:
    warranty: {length: 365, unit: days}
sla:
  review: {length: 2, unit: working_days, on_expiry: escalate}
"""


def _write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "shop.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def _error(tmp_path: Path, text: str) -> str:
    path = _write(tmp_path, text)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert "Traceback" not in message and "pydantic" not in message
    return message


def test_the_good_file_loads(tmp_path: Path) -> None:
    policy = load_policy(_write(tmp_path, GOOD))
    assert policy.services() == ["return", "repair"]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "length: 7, unit: days",
            "length: 7, unit: weeks",
            "services.return.tiers.0.window.unit: expected one of hours, days, working_days",
            id="wrong unit",
        ),
        pytest.param(
            "length: 7, unit: days",
            "length: 0, unit: days",
            "services.return.tiers.0.window.length: must be greater than 0",
            id="zero length",
        ),
        pytest.param(
            "length: 15, unit: days",
            "length: 5, unit: days",
            "services.return.tiers.1.window: tiers must grow",
            id="tiers not increasing",
        ),
        pytest.param(
            "length: 15, unit: days",
            "length: 100, unit: hours",
            "services.return.tiers.1.window: tiers must grow",
            id="tiers not increasing across units",
        ),
        pytest.param(
            "anchor: delivery, length: 7",
            "anchor: arrival, length: 7",
            "services.return.tiers.0.window.anchor: expected one of purchase, payment, shipment,"
            " delivery, discovery",
            id="unknown anchor",
        ),
        pytest.param(
            "  repair:\n",
            "  repiar:\n",
            "services.repiar: expected one of return, exchange, repair, refund, missing_parts",
            id="unknown service",
        ),
        pytest.param(
            "reasons: [no_reason, quality]",
            "reasons: [no_reason, broken]",
            "services.return.reasons.1: expected one of no_reason, quality",
            id="unknown reason",
        ),
        pytest.param(
            "conditions: [packaging_intact]",
            "conditions: [boxed]",
            "services.return.tiers.1.conditions.0: expected one of unused, packaging_intact",
            id="unknown condition",
        ),
        pytest.param(
            "  custom_made:",
            "  bespoke:",
            "categories.bespoke: expected one of electronics",
            id="unknown category",
        ),
        pytest.param(
            "offer: [repair]",
            "offer: [exchange]",
            "services.return.past_window.offer: exchange is not a service of this policy",
            id="offer names a service the profile lacks",
        ),
        pytest.param(
            "    shipping: {default: merchant}\n",
            "    shiping: {default: merchant}\n",
            "services.repair.shiping: unknown key",
            id="unknown key",
        ),
        pytest.param(
            "shipping: {default: customer, quality: merchant}",
            "shipping: {quality: merchant}",
            "services.return.shipping: say who pays for no_reason",
            id="shipping payer missing",
        ),
        pytest.param(
            "exclude_reasons: {return: [no_reason]}",
            "exclude_reasons: {repair: [no_reason]}",
            "categories.custom_made.exclude_reasons.repair: no_reason is not one of repair's",
            id="category excludes a reason the service lacks",
        ),
        pytest.param(
            "on_expiry: escalate",
            "on_expiry: shout",
            "sla.review.on_expiry: expected one of remind, escalate, auto_approve, auto_close",
            id="unknown expiry action",
        ),
        pytest.param(
            "  review:",
            "  answer:",
            "sla.answer: expected one of first_reply, review",
            id="unknown clock",
        ),
        pytest.param(
            "name: shop\n",
            "name: shop\ntimezone: Mars/Olympus\n",
            "timezone: unknown time zone 'Mars/Olympus'",
            id="unknown time zone",
        ),
        pytest.param(
            "name: shop\n",
            "",
            "name: required key is missing",
            id="missing name",
        ),
    ],
)
def test_bad_files(tmp_path: Path, old: str, new: str, expected: str) -> None:
    assert old in GOOD
    assert expected in _error(tmp_path, GOOD.replace(old, new, 1))


def test_every_problem_is_reported_on_its_own_line(tmp_path: Path) -> None:
    text = GOOD.replace("unit: days}", "unit: weeks}").replace("on_expiry: escalate", "x: 1")
    lines = _error(tmp_path, text).splitlines()
    assert len(lines) >= 3
    assert all(line.startswith(str(tmp_path)) for line in lines)


def test_invalid_yaml(tmp_path: Path) -> None:
    assert "invalid YAML" in _error(tmp_path, "name: [unclosed\n")


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert "expected a mapping" in _error(tmp_path, "- just\n- a list\n")


def test_missing_file_is_one_clear_line(tmp_path: Path) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(str(tmp_path / "absent.yaml"))
    assert str(info.value) == f"{tmp_path / 'absent.yaml'}: no such policy file"


def test_unknown_profile_name() -> None:
    with pytest.raises(PolicyError, match=r"^policies/no_such_shop\.yaml: no such policy file$"):
        load_policy("no_such_shop")


@pytest.mark.parametrize("path", sorted(POLICIES_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_profiles_load(path: Path) -> None:
    policy = load_policy(path.stem)
    assert policy.name == path.stem
    assert policy.services()
