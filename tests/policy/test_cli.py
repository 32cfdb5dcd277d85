"""`aftersales policy check` and `aftersales policy validate` through bot.cli.main."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pytest

from bot.cli import main
from dialogs.policy.loader import calendar_warning

T12_EXAMPLE = [
    "policy",
    "check",
    "--profile",
    "t12",
    "--service",
    "return",
    "--reason",
    "no_reason",
    "--category",
    "apparel",
    "--purchased-at",
    "2026-11-01T10:00:00+08:00",
    "--delivered-at",
    "2026-11-03T10:00:00+08:00",
    "--now",
    "2026-11-12T10:00:00+08:00",
    "--condition",
    "packaging_intact",
    "--condition",
    "accessories_complete",
]


def _with(argv: list[str], flag: str, value: str) -> list[str]:
    out = list(argv)
    out[out.index(flag) + 1] = value
    return out


def test_check_json_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*T12_EXAMPLE, "--json"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    data = json.loads(out)
    assert data["decision"] == "approve"
    assert data["rules"] == ["t12.return.tier2"]
    assert data["explanation"]["key"] == "policy/approved"
    assert data["explanation"]["values"]["service"] == "return"
    assert "退货" in data["explanation"]["zh"]
    assert "return" in data["explanation"]["en"]
    assert data["alternatives"] == []
    assert data["shipping_paid_by"] == "customer"
    assert data["evidence_required"] is None
    assert data["deadline"] == "2026-11-17T23:59:59.999000+08:00"


def test_check_json_reject_with_missing_evidence(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*_with(T12_EXAMPLE, "--reason", "quality"), "--json", "--price", "99.5"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decision"] == "reject"
    assert "t12.evidence.missing" in data["rules"]
    assert data["evidence_required"] == {"kind": "photo", "count": 1, "proof_of_purchase": False}
    assert data["deadline"] is None
    assert data["shipping_paid_by"] is None


def test_check_evidence_and_price(capsys: pytest.CaptureFixture[str]) -> None:
    argv = [*_with(T12_EXAMPLE, "--reason", "quality"), "--json", "--evidence", "1"]
    assert main([*argv, "--price", "120"]) == 0
    assert json.loads(capsys.readouterr().out)["decision"] == "approve"
    standard = _with(_with(argv, "--profile", "standard"), "--service", "exchange")
    assert main([*standard, "--price", "9999"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decision"] == "needs_agent"
    assert "standard.escalation.order_value" in data["rules"]


def test_check_summary_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(T12_EXAMPLE) == 0
    out = capsys.readouterr().out
    assert out.startswith("decision: approve  (t12.return.tier2)")
    assert "shipping paid by: customer" in out
    assert "deadline (ship_back): 2026-11-17T23:59:59.999000+08:00" in out


def test_check_bad_time_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    argv = _with(T12_EXAMPLE, "--now", "next tuesday")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == "aftersales policy check: --now: not an ISO 8601 time: 'next tuesday'"


def test_check_unknown_profile(capsys: pytest.CaptureFixture[str]) -> None:
    argv = _with(T12_EXAMPLE, "--profile", "nope")
    assert main(argv) == 1
    assert capsys.readouterr().err.strip() == "policies/nope.yaml: no such policy file"


def test_validate_ok_with_warnings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "validate", "t12"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "policies/t12.yaml: ok"
    assert all(line.startswith("policies/t12.yaml: warning: ") for line in lines[1:])


def test_validate_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["policy", "validate", "policies/standard.yaml"]) == 0
    assert capsys.readouterr().out.startswith("policies/standard.yaml: ok")


def test_validate_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "name: bad\nservices:\n  return:\n    reasons: [quality]\n    tiers:\n"
        "      - window: {anchor: delivery, length: 7, unit: fortnights}\n"
        "    shipping: {default: merchant}\n",
        encoding="utf-8",
    )
    assert main(["policy", "validate", str(bad)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.strip() == (
        f"{bad}: services.return.tiers.0.window.unit: expected one of hours, days, working_days"
    )


def test_validate_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "absent.yaml"
    assert main(["policy", "validate", str(missing)]) == 1
    assert capsys.readouterr().err.strip() == f"{missing}: no such policy file"


def test_console_entry_point_prints_one_json_object() -> None:
    import subprocess
    import sys

    from dialogs.paths import PROJECT_ROOT

    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *T12_EXAMPLE, "--json"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["rules"] == ["t12.return.tier2"]
    assert "Traceback" not in done.stderr


# ---- names are closed sets -------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value", "names"),
    [
        ("--service", "retrun", "return, exchange, repair, refund, missing_parts"),
        (
            "--reason",
            "broken",
            "no_reason, quality, not_as_described, transit_damage, wrong_item, missing_parts, "
            "size_colour, not_received",
        ),
        (
            "--category",
            "shoes",
            "electronics, appliances, apparel, fresh_food, custom_made, digital, periodicals, "
            "hygiene, other",
        ),
        ("--condition", "unsued", "unused, packaging_intact, accessories_complete, tags_attached"),
        ("--payment", "card", "online, cod"),
    ],
)
def test_unknown_name_is_a_usage_error_listing_the_names(
    flag: str, value: str, names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*T12_EXAMPLE, flag, value] if flag == "--payment" else _with(T12_EXAMPLE, flag, value)
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    last = captured.err.strip().splitlines()[-1]
    assert (
        last == f"aftersales policy check: error: argument {flag}: {value!r} is not one of {names}"
    )


def test_a_service_the_profile_does_not_offer_is_answered(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # missing_parts is a real service name; t12 just does not offer it.
    assert main([*_with(T12_EXAMPLE, "--service", "missing_parts"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["decision"] == "reject"
    assert data["rules"] == ["t12.service.not_offered"]


def _without_conditions(argv: list[str]) -> list[str]:
    out = list(argv)
    while "--condition" in out:
        i = out.index("--condition")
        del out[i : i + 2]
    return out


@pytest.mark.parametrize(
    "conditions",
    [
        ["--condition", "packaging_intact", "accessories_complete"],
        ["--condition", "packaging_intact", "--condition", "accessories_complete"],
        ["--condition", "packaging_intact,accessories_complete"],
        ["--condition", "packaging_intact, accessories_complete", "--condition", "unused"],
    ],
)
def test_conditions_one_flag_many_names_repeated_or_commas(
    conditions: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [*_without_conditions(T12_EXAMPLE), *conditions, "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["decision"], data["rules"]) == ("approve", ["t12.return.tier2"])


def test_without_the_conditions_the_tier_asks_for_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_without_conditions(T12_EXAMPLE), "--condition", "unused", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["conditions_required"] == ["packaging_intact", "accessories_complete"]


# ---- times without an offset -----------------------------------------------------------


def test_a_time_without_offset_is_the_profiles_local_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # t12's review clock is 3 working days. 23:30 on Thu 12 Nov in Shanghai ends Tue 17 Nov;
    # read as UTC it would already be Friday in Shanghai and end Wed 18 Nov.
    argv = [*_with(T12_EXAMPLE, "--now", "2026-11-12T23:30"), "--json"]
    assert main(argv) == 0
    naive = json.loads(capsys.readouterr().out)
    assert naive["deadline"] == "2026-11-17T23:59:59.999000+08:00"
    assert main([*_with(T12_EXAMPLE, "--now", "2026-11-12T23:30:00+08:00"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == naive
    # With an offset it is taken as given: 23:30 UTC is Friday morning in Shanghai.
    assert main([*_with(T12_EXAMPLE, "--now", "2026-11-12T23:30:00+00:00"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deadline"] == "2026-11-18T23:59:59.999000+08:00"


def test_the_zone_is_the_loaded_profiles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dialogs.paths import POLICIES_DIR

    text = (POLICIES_DIR / "t12.yaml").read_text(encoding="utf-8")
    assert "timezone: Asia/Shanghai" in text
    berlin = tmp_path / "berlin.yaml"
    berlin.write_text(text.replace("timezone: Asia/Shanghai", "timezone: Europe/Berlin"), "utf-8")
    argv = _with(_with(T12_EXAMPLE, "--profile", str(berlin)), "--now", "2026-11-12T23:30")
    argv = _with(argv, "--delivered-at", "2026-11-03T10:00")
    assert main([*argv, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["deadline"] == "2026-11-17T23:59:59.999000+01:00"


def test_a_date_alone_is_midnight_local(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*_with(T12_EXAMPLE, "--now", "2026-11-12"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["deadline"] == "2026-11-17T23:59:59.999000+08:00"


# ---- holiday schedule gaps: only when this decision's windows reach them ---------------

# t2 counts its windows and clocks in working days: delivered on 28 Dec 2026, its 7 working
# days run into January 2027, a year without a published schedule (at the time of writing).
T2_YEAR_END = [
    "policy",
    "check",
    "--profile",
    "t2",
    "--service",
    "return",
    "--reason",
    "quality",
    "--category",
    "apparel",
    "--purchased-at",
    "2026-12-20T10:00",
    "--delivered-at",
    "2026-12-28T10:00",
    "--now",
    "2026-12-29T10:00",
    "--evidence",
    "3",
    "--json",
]


def test_check_warns_only_when_its_windows_reach_a_year_without_schedule(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    november = _with(T2_YEAR_END, "--purchased-at", "2026-11-01T10:00")
    november = _with(_with(november, "--delivered-at", "2026-11-03T10:00"), "--now", "2026-11-04")
    with caplog.at_level(logging.WARNING):
        assert main(T2_YEAR_END) == 0
        reaching = json.loads(capsys.readouterr().out)
        assert main(november) == 0
        within = json.loads(capsys.readouterr().out)
    assert reaching["warnings"] == [calendar_warning("CN", 2027)]
    assert within["warnings"] == []
    # Reported in the output, so not logged as well.
    assert not [r for r in caplog.records if "2027" in r.getMessage()]


def test_check_summary_prints_the_gap_once() -> None:
    import subprocess
    import sys

    from dialogs.paths import PROJECT_ROOT

    argv = [a for a in T2_YEAR_END if a != "--json"]
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", *argv],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert done.stdout.count("2027") == 1
    assert "warning: calendar: no official CN holiday schedule for 2027" in done.stdout


# ---- help speaks to users --------------------------------------------------------------


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """Every parser, with its command line, walking the subcommands."""
    from bot.cli import _build_parser

    found: list[tuple[str, argparse.ArgumentParser]] = []
    todo = [("aftersales", _build_parser())]
    while todo:
        name, parser = todo.pop()
        found.append((name, parser))
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help for a in action._choices_actions}
                for sub, subparser in action.choices.items():
                    assert helps.get(sub), f"{name} {sub} has no help"
                    todo.append((f"{name} {sub}", subparser))
    return found


def test_top_level_help_is_for_users(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "module" not in out.lower()
    assert "Telegram bot" in out
    assert "README.md" in out
    for command in ("sandbox", "run", "link", "db", "orders", "demo-data", "policy"):
        assert f"\n    {command}" in out


def test_every_command_and_flag_has_help() -> None:
    parsers = _parsers()
    names = {name for name, _ in parsers}
    assert {"aftersales policy check", "aftersales policy validate", "aftersales run"} <= names
    for name, parser in parsers:
        assert parser.description, f"{name} has no description"
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"


def test_check_help_lists_the_names_and_the_time_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["policy", "check", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "return, exchange, repair, refund, missing_parts" in out
    assert "unused, packaging_intact, accessories_complete, tags_attached" in out
    assert "online (default) or cod" in out
    assert "profile's time zone" in out
