"""`aftersales policy check` and `aftersales policy validate` through bot.cli.main."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli import main

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
