"""The real bot over HTTP against the Bot API emulator: what a Telegram user lives through.

Every test ends with the emulator's spec validation: no request the bot made may break the
Bot API spec or Telegram's limits (see tests/e2e/conftest.py).
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.emulator.server import EmulatorServer
from dialogs.links import LinkSigner
from dialogs.paths import PROJECT_ROOT
from storage import migrate
from storage.db import Database
from storage.models import Case, Evidence
from tests.e2e.harness import Customer as Tg
from tests.e2e.harness import orders_of, running_bot, seed_demo

ALICE = "+447700900123"
POWER_BANK = "Anker 737 Power Bank (PowerCore 24K), 140W"  # with a scarf, delivered 5 days ago


@pytest.fixture
async def shop_url(database_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, database_url)
    await seed_demo(database_url)
    return database_url


async def all_cases(url: str) -> list[Case]:
    db = Database(url)
    try:
        async with db.read() as s:
            cases = list((await s.scalars(select(Case).order_by(Case.id))).all())
            s.expunge_all()  # readable after the session closes
            return cases
    finally:
        await db.dispose()


async def alice_at_menu(emu, *, by_contact: bool = True) -> Tg:
    alice = Tg(emu, emu.create_user(first_name="Alice", language_code="en"))
    await alice.say("/start", expect=2)
    await alice.share_contact(ALICE, expect=2)
    assert alice.has_button("New request"), alice.texts()
    return alice


async def open_order(alice: Tg, url: str, first_item: str) -> None:
    await alice.tap("New request")
    await alice.tap((await orders_of(url, ALICE))[first_item])


async def scarf_exchange_to_summary(alice: Tg) -> None:
    """From the power bank order's item list to the summary of a size exchange of the scarf."""
    for label in ("Merino wool scarf", "Exchange", "Wrong size or colour"):
        await alice.tap(label)
    await alice.say("L, navy")
    for label in ("Yes", "Yes", "Skip"):
        await alice.tap(label)


async def test_full_return_with_photos(emulator: EmulatorServer, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        emu = bot.emu
        alice = await alice_at_menu(emu)
        ask = alice.messages()[1]  # the question offering the "share my contact" button
        assert ask.reply_keyboard and ask.reply_keyboard["keyboard"][0][0]["request_contact"]
        await open_order(alice, shop_url, POWER_BANK)
        await alice.tap("Anker 737")
        await alice.tap("Return and refund")
        await alice.tap("Quality problem")
        await alice.say("It stops charging after a minute")
        await alice.send_photo(b"\xff\xd8\xff" + b"p" * 5000)
        await alice.tap("Done")
        await alice.tap("Confirm")
        assert "Approved" in alice.texts() and "AS-" in alice.texts()
        assert emu.unanswered_callbacks() == []
    [case] = await all_cases(shop_url)
    assert (case.service, case.reason, case.status) == ("return", "quality", "awaiting_return")
    db = Database(shop_url)
    async with db.read() as s:
        [evidence] = (await s.scalars(select(Evidence))).all()
        stored = Path(evidence.local_path or "")
        assert stored.parent == tmp_path / "evidence" and len(stored.stem) == 32
        data = await asyncio.to_thread(stored.read_bytes)
        assert evidence.sha256 == hashlib.sha256(data).hexdigest()
    await db.dispose()


async def test_exchange_and_navigation_edits_the_menu(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        alice = await alice_at_menu(bot.emu)
        menu_id = alice.last.message_id
        await alice.tap("New request")
        assert alice.last.message_id == menu_id  # edited in place, not a new message
        await alice.tap((await orders_of(shop_url, ALICE))[POWER_BANK])
        await scarf_exchange_to_summary(alice)
        await alice.tap("Confirm")
        assert "Approved" in alice.texts()
    [case] = await all_cases(shop_url)
    assert (case.service, case.status) == ("exchange", "awaiting_return")


async def test_refusal_then_one_tap_alternative(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        alice = await alice_at_menu(bot.emu)
        await open_order(alice, shop_url, POWER_BANK)
        await alice.tap("Merino wool scarf")
        await alice.tap("Return and refund")
        await alice.tap("Changed my mind")
        await alice.tap("No")
        await alice.tap("Skip")
        assert "can't be approved" in alice.last.text and not alice.has_button("Confirm")
        await alice.tap("Exchange instead")
        assert "Exchange: what is the reason?" in alice.last.text
        await alice.tap("Wrong size or colour")
        await alice.say("M")
        for label in ("Yes", "Yes", "Skip", "Confirm"):
            await alice.tap(label)
        assert "Approved" in alice.texts()
    assert [(c.service, c.status) for c in await all_cases(shop_url)] == [
        ("exchange", "awaiting_return")
    ]


async def test_identification_by_order_number(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        user = Tg(bot.emu, bot.emu.create_user(first_name="Alice", language_code="en"))
        await user.say("/start", expect=2)
        order_no = next(iter((await orders_of(shop_url, ALICE)).values()))
        await user.say(order_no)
        assert "last four digits" in user.last.text
        await user.say("0123", expect=2)
        assert user.has_button("New request")


async def test_a_forged_contact_is_refused(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        mallory = Tg(bot.emu, bot.emu.create_user(first_name="Mallory", language_code="en"))
        await mallory.say("/start", expect=2)
        victim = bot.emu.create_user(first_name="Alice")
        await mallory.share_contact(ALICE, user_id=victim.id, expect=2)
        assert "your own" in mallory.texts()
        assert not mallory.has_button("New request")


async def test_a_forged_callback_cannot_open_another_customers_order(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        emu = bot.emu
        alice = await alice_at_menu(emu)
        await alice.tap("New request")
        order_list = alice.last
        data = order_list.buttons[0]["callback_data"]
        nonce = data.split(":")[0]
        before = [m.text for m in alice.messages()]
        for forged in (f"{nonce}:77", "1:0", "order:DD000000000", "x" * 64):
            await emu.user_clicks(alice.user, order_list, forged, strict=False)
        await emu.wait_until(lambda: not emu.unanswered_callbacks(), 10)
        assert [m.text for m in alice.messages()] == before
        assert "Choose an order" in alice.last.text


async def test_a_stale_button_gets_a_short_answer(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        emu = bot.emu
        alice = await alice_at_menu(emu)
        await alice.say("/menu")
        old = alice.messages()[-2]  # the earlier menu, superseded by /menu
        await emu.user_clicks(alice.user, old, old.buttons[0]["callback_data"])
        await emu.wait_until(lambda: not emu.unanswered_callbacks(), 10)
        answers = emu.calls_to("answerCallbackQuery")
        assert "out of date" in answers[-1].params.get("text", "")


async def test_an_album_is_one_answer(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        alice = await alice_at_menu(bot.emu)
        await open_order(alice, shop_url, POWER_BANK)
        await alice.tap("Anker 737")
        await alice.tap("Return and refund")
        await alice.tap("Quality problem")
        await alice.say("Cracked casing")
        before = len(alice.messages())
        await alice.send_album(3)
        new = alice.messages()[before:]
        assert len(new) == 1  # the question again with "Received so far: 3", not three answers
        assert "Received so far: 3." in new[0].text
        assert any("Done" in b["text"] for b in new[0].buttons)


async def test_duplicate_update_makes_one_case(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        emu = bot.emu
        alice = await alice_at_menu(emu)
        await open_order(alice, shop_url, POWER_BANK)
        await scarf_exchange_to_summary(alice)
        summary = alice.last
        confirm = next(b for b in summary.buttons if "Confirm" in b["text"])
        update = await emu.user_clicks(alice.user, summary, confirm["callback_data"])
        await emu.wait_until(lambda: "Approved" in alice.texts(), 10)
        emu.redeliver(update)  # Telegram did not see our confirmation and sends it again
        await alice.say("/status")
        assert alice.texts().count("Approved") == 1
    assert len(await all_cases(shop_url)) == 1


async def test_deep_link_opens_the_order_after_identification(emulator, shop_url, tmp_path):
    order_no = (await orders_of(shop_url, ALICE))[POWER_BANK]
    token = LinkSigner("test-link-secret").token(order_no, datetime.now(UTC))
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        alice = Tg(bot.emu, bot.emu.create_user(first_name="Alice", language_code="en"))
        await alice.say(f"/start {token}", expect=2)
        await alice.share_contact(ALICE, expect=2)
        assert "Which item of order" in alice.last.text and order_no in alice.last.text
        stranger = Tg(bot.emu, bot.emu.create_user(first_name="Eve", language_code="en"))
        await stranger.say(f"/start {token[:-2]}xx", expect=2)
        assert "link does not work" in stranger.texts()


async def test_a_file_over_the_policys_limit_is_refused(emulator, shop_url, tmp_path):
    policy = tmp_path / "small.yaml"
    standard = (PROJECT_ROOT / "policies" / "standard.yaml").read_text(encoding="utf-8")
    policy.write_text(standard.replace("currency: CNY", "currency: CNY\nevidence_max_mb: 1"))
    async with running_bot(emulator, shop_url, tmp_path, policy=str(policy)) as bot:
        alice = await alice_at_menu(bot.emu)
        await open_order(alice, shop_url, POWER_BANK)
        await alice.tap("Anker 737")
        await alice.tap("Return and refund")
        await alice.tap("Quality problem")
        await alice.say("Broken")
        await alice.send_photo(b"\xff" * (1024 * 1024 + 1))
        assert "too large: the limit is 1 MB" in alice.texts()
        await alice.send_photo(b"\xff" * 1000)
        assert "Received so far: 1." in alice.last.text
