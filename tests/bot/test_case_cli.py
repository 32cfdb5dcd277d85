"""`aftersales case …`: the shop moves a case from the command line."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from storage import migrate
from storage.db import Database
from storage.models import Case, CaseEvent, Outbox
from tests.factories import make_case, make_customer, make_order

CHAT = 5001
CASE_NO = "AS-20261126-0042"


async def _seed(url: str, **fields: object) -> None:
    db = Database(url)
    try:
        async with db.transaction() as s:
            customer = await make_customer(s, language="en", telegram_user_id=CHAT)
            order = await make_order(s, customer, items=[{"name": "Kettle", "unit_price": "99.00"}])
            await make_case(s, order, case_no=CASE_NO, chat_id=CHAT, locale="en",
                            **{"status": "awaiting_return", **fields})  # fmt: skip
    finally:
        await db.dispose()


async def _read(url: str) -> tuple[Case, list[CaseEvent], list[Outbox]]:
    db = Database(url)
    try:
        async with db.read() as s:
            case = (await s.scalars(select(Case))).one()
            events = list((await s.scalars(select(CaseEvent).order_by(CaseEvent.id))).all())
            sent = list((await s.scalars(select(Outbox).order_by(Outbox.id))).all())
            s.expunge_all()
            return case, events, sent
    finally:
        await db.dispose()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A migrated SQLite shop with one approved return waiting for its parcel."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.delenv("LINK_SECRET", raising=False)  # the CLI makes no deep links
    migrate.upgrade(url)
    asyncio.run(_seed(url))
    return url


def _texts(sent: list[Outbox]) -> list[str]:
    return [m.payload.get("text", "") for m in sent if m.chat_id == CHAT]


def test_a_return_driven_to_its_end(shop, capsys):
    assert main(["case", "received", CASE_NO]) == 0
    line = capsys.readouterr().out
    assert line.startswith(CASE_NO) and "received" in line and "next: inspected" in line
    assert main(["case", "inspected", CASE_NO, "--ok", "--note", "sealed, unused"]) == 0
    assert main(["case", "refunded", CASE_NO, "--amount", "50"]) == 0
    assert "refunded" in capsys.readouterr().out
    assert main(["case", "close", CASE_NO]) == 0
    assert "closed" in capsys.readouterr().out
    case, events, sent = asyncio.run(_read(shop))
    assert case.status == "closed" and str(case.refund_amount) == "50.00"
    steps = [(e.kind, e.actor, e.data.get("via")) for e in events if "via" in e.data]
    assert steps == [("received", "agent", "cli"), ("inspected_ok", "agent", "cli"),
                     ("refunded", "agent", "cli"), ("close", "agent", "cli")]  # fmt: skip
    assert events[1].data["note"] == "sealed, unused"
    # The customer is told of every step, in English, through the outbox.
    told = "\n".join(_texts(sent))
    assert "has <b>arrived</b>" in told and "passed our check" in told
    assert "CN¥50.00" in told and "is <b>closed</b>" in told

    # `case show` prints the case with its timeline; --json the same for machines.
    assert main(["case", "show", CASE_NO.lower()]) == 0
    shown = capsys.readouterr().out
    assert shown.splitlines()[0] == CASE_NO
    assert "status    closed" in shown and "refund    50.00" in shown
    assert shown.index("received") < shown.index("inspected_ok") < shown.index("close  ")
    assert main(["case", "show", CASE_NO, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "closed" and data["next"] == []
    kinds = [e["kind"] for e in data["events"]]
    assert kinds[:4] == ["received", "inspected_ok", "refunded", "close"]


def test_list_filters_by_status(shop, capsys):
    assert main(["case", "list", "--status", "awaiting_return"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(CASE_NO) and "Kettle ×1" in line
    assert line.endswith("next: waybill, received, cancel")
    assert main(["case", "list", "--status", "closed"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["case", "list", "--json"]) == 0
    [found] = json.loads(capsys.readouterr().out)
    assert found["case_no"] == CASE_NO and found["item"] == "Kettle"
    with pytest.raises(SystemExit) as exit_:
        main(["case", "list", "--status", "shipped"])
    assert exit_.value.code == 2
    assert "'shipped' is not one of submitted, approved" in capsys.readouterr().err


def test_a_refund_before_the_parcel_is_back_is_refused_and_changes_nothing(shop):
    before = asyncio.run(_read(shop))
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "case", "refunded", CASE_NO, "--amount", "10"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    # One sentence, no traceback: the step, and where the case stands.
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(
        f'aftersales: Request {CASE_NO} cannot take the step "refunded" now (its status: waiting'
    ), result.stderr
    case, events, sent = asyncio.run(_read(shop))
    assert (case.status, case.version, case.refund_amount) == ("awaiting_return",
                                                              before[0].version, None)  # fmt: skip
    assert events == [] and sent == []


def test_refusals_say_why(shop, capsys):
    assert main(["case", "received", CASE_NO]) == 0
    capsys.readouterr()
    assert main(["case", "inspected", CASE_NO, "--fail", ""]) == 1
    assert "a note is required when an inspection fails" in capsys.readouterr().err
    assert main(["case", "shipped", CASE_NO, "--carrier", "sf", "--waybill", "123"]) == 1
    assert 'cannot take the step "shipped" now' in capsys.readouterr().err  # a return ships nothing
    assert main(["case", "received", "AS-20990101-0001", "--json"]) == 2
    assert json.loads(capsys.readouterr().out) == {
        "error": "no_case", "message": "There is no request AS-20990101-0001."}  # fmt: skip
    assert main(["case", "inspected", CASE_NO, "--fail", "the seal is broken, water inside"]) == 0
    case, events, _ = asyncio.run(_read(shop))
    assert case.status == "rejected" and events[-1].data["note"].startswith("the seal")


def test_the_shop_issues_the_return_waybill(shop, capsys):
    assert main(["case", "waybill", CASE_NO, "--carrier", "sf", "--number", "SF12"]) == 1
    assert "It looks like this: SF1234567890123" in capsys.readouterr().err
    assert main(["case", "waybill", CASE_NO, "--carrier", "sf", "--number", "sf 1234 5678 9012 3"]
                ) == 0  # fmt: skip
    assert "in_transit" in capsys.readouterr().out
    case, _, sent = asyncio.run(_read(shop))
    assert (case.carrier, case.waybill) == ("sf", "SF1234567890123")
    assert "We booked the return" in _texts(sent)[-1] and "SF1234567890123" in _texts(sent)[-1]
