"""`aftersales report`: the same figures as Markdown, CSV and JSON; bad options get one
sentence and exit 2; no customer's phone or name in any of them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import struct
from pathlib import Path

import pytest

from bot.cli import main
from storage import migrate
from storage.db import Database
from tests.reports_history import NAMES, PHONES, load_history

WEEK = ["--from", "2026-11-02", "--to", "2026-11-08"]


async def _seed(url: str) -> None:
    db = Database(url)
    try:
        await load_history(db)
    finally:
        await db.dispose()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("POLICY", "standard")
    migrate.upgrade(url)
    asyncio.run(_seed(url))
    return tmp_path


def _run(shop: Path, kind: str, *extra: str) -> str:
    out = shop / f"report.{kind}"
    assert main(["report", *WEEK, "--format", kind, "--out", str(out), *extra]) == 0
    return out.read_text(encoding="utf-8")


def test_markdown_csv_and_json_give_the_same_figures(shop: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(_run(shop, "csv"))))
    document = json.loads(_run(shop, "json"))
    assert document["period"] == {"from": "2026-11-02", "to": "2026-11-08"}
    as_text = [{k: "" if v is None else str(v) for k, v in f.items()} for f in document["facts"]]
    assert as_text == rows
    facts = {(r["section"], r["name"]): r for r in rows}
    assert facts[("key", "requests")]["value"] == "4"
    assert facts[("key", "requests")]["previous"] == "3"
    assert facts[("key", "requests")]["change_pct"] == "33.3"
    assert facts[("service", "return")]["value"] == "2"
    assert facts[("refund_total", "CNY")]["value"] == "1698.00"
    assert facts[("clock_breached", "review")]["value"] == "1"
    md = _run(shop, "md", "--lang", "en")
    assert "| Requests | 4 | 3 | ↑ +33.3% |" in md
    assert "| Return | 2 | 50.0% | 2 |" in md
    assert md.count("| Return |") == 1  # each service once
    assert "| Review | 0 | 1 | 0 | 0.0% |" in md
    assert "CN¥1,698.00" in md
    assert "| PH-1 | Phone X \\| 5G | 2 | 2 |" in md  # a | in a name stays inside its cell
    zh = _run(shop, "md")  # DEFAULT_LOCALE: zh
    assert "| 售后申请 | 4 | 3 | ↑ +33.3% |" in zh and "| 退货退款 | 2 | 50.0% | 2 |" in zh
    assert "2026年11月2日" in zh


def test_no_customer_phone_or_name_in_any_output(shop: Path) -> None:
    for kind in ("md", "csv", "json"):
        text = _run(shop, kind)
        for secret in (*PHONES, *NAMES, *(p[-4:] for p in PHONES)):
            assert secret not in text, (kind, secret)


def test_a_period_without_cases_says_so(shop: Path) -> None:
    out = shop / "empty.md"
    args = ["report", "--from", "2025-01-06", "--to", "2025-01-12", "--lang", "en"]
    assert main([*args, "--out", str(out)]) == 0
    assert "No cases in this period" in out.read_text(encoding="utf-8")
    assert main([*args, "--format", "json", "--out", str(out)]) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["empty"] is True
    shares = [f for f in document["facts"] if f["name"] == "approve_share"]
    assert shares[0]["value"] is None  # not 0/0


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (["--from", "2026-11-31", "--to", "2026-12-01"], "--from: '2026-11-31' is not a date"),
        (["--from", "2026-11-01", "--to", "soon"], "--to: 'soon' is not a date"),
        (["--from", "2026-11-08", "--to", "2026-11-02"], "--from 2026-11-08 is after --to"),
        ([*WEEK, "--format", "pdf"], "--format: 'pdf' is not one of md, csv, json, png"),
        ([*WEEK, "--format", "png"], "--format png needs --out FILE"),
        ([*WEEK, "--lang", "fr"], "--lang: 'fr' is not one of zh, en"),
    ],
)
def test_bad_options_get_one_sentence_and_exit_2(
    shop: Path, capsys: pytest.CaptureFixture[str], args: list[str], sentence: str
) -> None:
    assert main(["report", *args]) == 2
    err = capsys.readouterr().err
    assert sentence in err and len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err


def test_the_png_is_a_phone_sized_picture(shop: Path) -> None:
    out = shop / "report.png"
    assert main(["report", *WEEK, "--format", "png", "--out", str(out)]) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width == 1080 and 1400 <= height <= 2400, (width, height)
    assert 30_000 < len(data) < 1_000_000  # drawn, and light enough to send
