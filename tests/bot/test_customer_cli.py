"""`aftersales customer export|erase PHONE` and `aftersales db prune`: personal data (PIPL)."""

from __future__ import annotations

import asyncio
import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.cli import main
from storage import migrate
from storage.db import Database
from storage.models import (
    Case,
    CaseEvent,
    Conversation,
    Customer,
    Evidence,
    IdentificationFailure,
    Outbox,
    Survey,
)
from tests.factories import make_case, make_customer, make_order

PHONE, NAME, CHAT = "+8613912345678", "李雷", 5001
OTHER_PHONE, OTHER_CHAT = "+8613987654321", 5002
WORDS = "屏幕裂了, 北京市朝阳区某路 1 号"


async def _seed(url: str, evidence_dir: Path) -> None:
    db = Database(url)
    now = datetime.now(UTC)
    try:
        async with db.transaction() as s:
            customer = await make_customer(s, phone=PHONE, name=NAME, telegram_user_id=CHAT)
            order = await make_order(s, customer, order_no="DD-PD-1", items=[{"name": "Kettle"}])
            case = await make_case(
                s,
                order,
                case_no="AS-20261203-0001",
                chat_id=CHAT,
                status="closed",
                closed_at=now,
                description=WORDS,
                return_address="北京市朝阳区某路 1 号",
            )
            for n in range(2):
                path = evidence_dir / f"photo{n}.jpg"
                path.write_bytes(b"jpeg")
                path.chmod(0o600)
                s.add(
                    Evidence(
                        case_id=case.id,
                        kind="photo",
                        file_id=f"f{n}",
                        file_unique_id=f"u{n}",
                        local_path=str(path),
                    )
                )
            s.add(
                CaseEvent(
                    case_id=case.id, at=now, actor="customer", kind="message", data={"text": WORDS}
                )
            )
            s.add(Survey(case_id=case.id, rating=5, comment=f"{NAME} says thanks"))
            s.add(
                Conversation(
                    chat_id=CHAT,
                    user_id=CHAT,
                    customer_id=customer.id,
                    state="idle",
                    context={"phone": PHONE},
                    version=1,
                )
            )
            s.add(
                IdentificationFailure(
                    at=now, chat_id=CHAT, order_no="DD-PD-1", customer_id=customer.id
                )
            )
            s.add(Outbox(chat_id=CHAT, payload={"text": f"Hello {NAME}"}, status="pending"))
            # Someone else, who must not be touched.
            other = await make_customer(
                s, phone=OTHER_PHONE, name="韩梅梅", telegram_user_id=OTHER_CHAT
            )
            other_order = await make_order(s, other, order_no="DD-PD-2")
            await make_case(s, other_order, chat_id=OTHER_CHAT, description="her words")
            s.add(Outbox(chat_id=OTHER_CHAT, payload={"text": "Hello"}, status="pending"))
    finally:
        await db.dispose()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shop.db'}"
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("EVIDENCE_DIR", str(tmp_path / "evidence"))
    migrate.upgrade(url)
    (tmp_path / "evidence").mkdir(mode=0o700)
    asyncio.run(_seed(url, tmp_path / "evidence"))
    return url, tmp_path / "evidence"


async def _dump(url: str) -> str:
    """Every row of every table, as one text to search for personal data."""
    db = Database(url)
    try:
        async with db.read() as s:
            names = (
                (await s.execute(text("SELECT name FROM sqlite_master WHERE type = 'table'")))
                .scalars()
                .all()
            )
            rows = [
                repr(tuple(r))
                for n in names
                for r in (await s.execute(text(f'SELECT * FROM "{n}"'))).all()
            ]
            return "\n".join(rows)
    finally:
        await db.dispose()


def test_export_holds_everything_about_the_customer(shop, capsys):
    _, evidence = shop
    assert main(["customer", "export", "139 1234 5678"]) == 0  # read as the importer reads it
    data = json.loads(capsys.readouterr().out)
    assert data["customer"]["phone"] == PHONE and data["customer"]["name"] == NAME
    assert [o["order_no"] for o in data["orders"]] == ["DD-PD-1"]
    assert data["orders"][0]["items"][0]["name"] == "Kettle"
    [case] = data["cases"]
    assert case["case_no"] == "AS-20261203-0001" and case["description"] == WORDS
    assert case["events"][0]["data"]["text"] == WORDS
    assert case["survey"]["comment"] == f"{NAME} says thanks"
    paths = sorted(str(evidence / f"photo{n}.jpg") for n in range(2))
    assert sorted(data["evidence_files"]) == paths
    assert sorted(e["local_path"] for e in case["evidence"]) == paths
    assert data["conversations"][0]["context"] == {"phone": PHONE}
    assert len(data["identification_failures"]) == 1
    assert [m["payload"]["text"] for m in data["outbox"]] == [f"Hello {NAME}"]
    assert "韩梅梅" not in json.dumps(data, ensure_ascii=False)  # nobody else's


def test_export_to_a_file_only_this_user_can_read(shop, tmp_path, capsys):
    out = tmp_path / "export.json"
    assert main(["customer", "export", PHONE, "--out", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text(encoding="utf-8"))["customer"]["name"] == NAME


def test_erase_deletes_the_personal_data_and_keeps_an_audit_event(shop, capsys):
    url, evidence = shop
    assert main(["customer", "erase", PHONE, "--yes"]) == 0
    assert "erased" in capsys.readouterr().out
    assert list(evidence.iterdir()) == []  # the files are gone

    async def read() -> tuple[Customer, Case, list[CaseEvent], int, list[int]]:
        db = Database(url)
        try:
            async with db.read() as s:
                customer = (await s.scalars(select(Customer).where(Customer.name == ""))).one()
                case = (await s.scalars(select(Case).where(Case.customer_id == customer.id))).one()
                events = (await s.scalars(select(CaseEvent).order_by(CaseEvent.id))).all()
                left = len((await s.scalars(select(Evidence))).all())
                chats = (await s.scalars(select(Outbox.chat_id))).all()
                s.expunge_all()
                return customer, case, list(events), left, list(chats)
        finally:
            await db.dispose()

    customer, case, events, evidence_rows, chats = asyncio.run(read())
    assert (customer.phone, customer.telegram_user_id) == (f"erased:{customer.id}", None)
    assert (case.description, case.return_address, case.chat_id) == ("", None, None)
    assert (case.status, case.service, case.reason) == ("closed", "return", "no_reason")
    assert evidence_rows == 0 and chats == [OTHER_CHAT]
    assert [(e.kind, e.actor) for e in events][-1] == ("erased", "system")
    dump = asyncio.run(_dump(url))
    for personal in (NAME, PHONE, "屏幕裂了", "朝阳区", str(evidence)):
        assert personal not in dump, personal
    assert "韩梅梅" in dump and "her words" in dump  # the other customer is untouched

    # An erased customer is not found again: export shows nothing, erase changes nothing.
    assert main(["customer", "export", PHONE]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"aftersales: no customer with phone {PHONE}\n"
    assert main(["customer", "erase", PHONE, "--yes"]) == 2
    assert asyncio.run(_dump(url)) == dump


def test_erase_needs_a_confirmation(shop, capsys):
    assert main(["customer", "erase", PHONE]) == 2  # stdin is not a terminal here
    assert "cannot be undone: confirm with --yes" in capsys.readouterr().err
    assert main(["customer", "export", PHONE]) == 0  # nothing changed


def test_unknown_or_malformed_phone_exits_2_with_one_sentence(shop, capsys):
    assert main(["customer", "export", "+8613900000000"]) == 2
    assert capsys.readouterr().err == "aftersales: no customer with phone +8613900000000\n"
    assert main(["customer", "erase", "12", "--yes"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'12' is not a phone number" in err


def test_db_prune_prints_the_counts(shop, capsys, monkeypatch):
    _, evidence = shop
    # Four years on, the closed case is past the profile's 1095 days; the other one is open.
    later = datetime.now(UTC) + timedelta(days=4 * 365)
    import bot.cli.prune as prune_cli

    real = prune_cli.run_prune

    async def at_later(*args, **kwargs):
        return await real(*args, **kwargs, now=later)

    monkeypatch.setattr(prune_cli, "run_prune", at_later)
    assert main(["db", "prune", "--dry-run"]) == 0
    assert capsys.readouterr().out == (
        "would prune: inbox rows 0, outbox rows 0, cases anonymised 1, evidence files 2\n"
    )
    assert len(list(evidence.iterdir())) == 2
    assert main(["db", "prune"]) == 0
    assert "pruned: inbox rows 0, outbox rows 0, cases anonymised 1" in capsys.readouterr().out
    assert list(evidence.iterdir()) == []
    assert main(["db", "prune"]) == 0
    assert "cases anonymised 0, evidence files 0" in capsys.readouterr().out


def test_a_bad_retention_setting_is_one_sentence(shop, capsys, monkeypatch):
    monkeypatch.setenv("RETENTION_PROCESSED_DAYS", "0")
    assert main(["db", "prune"]) == 2
    assert capsys.readouterr().err == (
        "aftersales: RETENTION_PROCESSED_DAYS: must be at least 1 (got '0')\n"
    )
