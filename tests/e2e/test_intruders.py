"""Nobody gets in where they do not belong, and bad input changes nothing.

Forged webhook bodies, forged and expired deep links, guessing phone digits from many
accounts, a customer's buttons pressed in a group, photos nobody asked for, edited messages:
each against the real bot over HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.emulator.media import media_object
from dialogs.links import LinkSigner
from dialogs.paths import PROJECT_ROOT
from storage import migrate
from storage.db import Database
from storage.models import Case, Conversation, Evidence, Inbox
from tests.e2e.harness import WEBHOOK_SECRET, Customer, orders_of, running_bot, seed_demo

ALICE = "+447700900123"
POWER_BANK = "Anker 737 Power Bank (PowerCore 24K), 140W"
LINK_SECRET = "test-link-secret"  # the harness's


@pytest.fixture
async def shop_url(database_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, database_url)
    await seed_demo(database_url)
    return database_url


async def scalar(url: str, query) -> object:
    db = Database(url)
    try:
        async with db.read() as s:
            return await s.scalar(query)
    finally:
        await db.dispose()


async def at_menu(emu, language: str = "en") -> Customer:
    alice = Customer(emu, emu.create_user(first_name="Alice", language_code=language))
    await alice.say("/start", expect=2)
    await alice.share_contact(ALICE, expect=2)
    return alice


async def at_evidence(alice: Customer, url: str) -> None:
    await alice.tap("New request")
    await alice.tap((await orders_of(url, ALICE))[POWER_BANK])
    await alice.tap("Anker 737")
    await alice.tap("Return and refund")
    await alice.tap("Quality problem")
    await alice.say("It stops charging after a minute")
    assert "photo" in alice.last.text


def evidence_files(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "evidence"
    return sorted(folder.iterdir()) if folder.exists() else []


# --- the webhook -------------------------------------------------------------------------------


def _message(update_id: object, chat: object = None) -> dict[str, object]:
    chat = chat if chat is not None else {"id": 42, "type": "private"}
    return {"update_id": update_id, "message": {"message_id": 1, "date": 0, "chat": chat,
                                                "text": "/start"}}  # fmt: skip


BAD_BODIES = [
    _message(2**70),  # past 64 bits
    {"update_id": 7, "callback_query": {"id": "1", "chat_instance": "1", "data": "x"}},  # no from
    _message(8, chat={"id": "42", "type": "private"}),  # a chat id that is not a number
    {"update_id": 9},  # no update in it
    [1, 2, 3],
    "just a string",
]


async def test_the_webhook_refuses_what_is_not_an_update_and_stays_up(
    emulator, shop_url, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    async with running_bot(emulator, shop_url, tmp_path, webhook=True) as bot:
        await bot.emu.wait_until(lambda: bool(bot.emu.calls_to("setWebhook")), 10)
        url = bot.runtime.settings.webhook_url
        assert url is not None
        headers = {"X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}
        async with aiohttp.ClientSession() as http:
            for body in BAD_BODIES:
                async with http.post(url, json=body, headers=headers) as response:
                    assert response.status == 400, body
            async with http.post(url, data=b"{not json", headers=headers) as response:
                assert response.status == 400
            async with http.post(url, data=b"x" * 300_000, headers=headers) as response:
                assert response.status == 413  # far larger than any update
        warnings = [r for r in caplog.records if r.getMessage().startswith("webhook: ignored")]
        assert len(warnings) == len(BAD_BODIES) + 1 and not [r for r in warnings if r.exc_info]
        alice = await at_menu(bot.emu)  # the server is still there
        assert alice.has_button("New request")
    assert await scalar(shop_url, select(func.count()).select_from(Inbox)) == 2  # alice's two


async def test_a_forged_member_update_without_the_secret_silences_nobody(
    emulator, shop_url, tmp_path
):
    async with running_bot(emulator, shop_url, tmp_path, webhook=True) as bot:
        alice = await at_menu(bot.emu)
        url = bot.runtime.settings.webhook_url
        forged = {"update_id": 5, "my_chat_member": {
            "chat": {"id": alice.user.id, "type": "private"},
            "from": {"id": alice.user.id, "is_bot": False, "first_name": "A"}, "date": 1,
            "old_chat_member": {"status": "member", "user": {"id": 1, "is_bot": True,
                                                             "first_name": "b"}},
            "new_chat_member": {"status": "kicked", "until_date": 0, "user": {
                "id": 1, "is_bot": True, "first_name": "b"}}}}  # fmt: skip
        async with aiohttp.ClientSession() as http, http.post(url, json=forged) as response:
            assert response.status == 401
        await alice.say("/help", expect=2)  # still answered
        assert "/status" in alice.texts()


# --- deep links --------------------------------------------------------------------------------


async def test_forged_expired_and_missing_order_links_answer_alike(emulator, shop_url, tmp_path):
    now = datetime.now(UTC)
    real_order = (await orders_of(shop_url, ALICE))[POWER_BANK]
    signer = LinkSigner(LINK_SECRET, ttl_days=30)
    tokens = {
        "forged": LinkSigner("somebody-else's-secret").token(real_order, now),
        "missing": signer.token("DD0000000000001", now),
        "expired": LinkSigner(LINK_SECRET, ttl_days=1).token(real_order, now - timedelta(days=5)),
    }
    answers = {}
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        for name, token in tokens.items():
            user = Customer(bot.emu, bot.emu.create_user(first_name=name, language_code="en"))
            await user.say(f"/start {token}", expect=3)
            answers[name] = [m.text for m in user.messages()]
        # A good link for someone else's order, once identified: the same sentence.
        alice = await at_menu(bot.emu)
        other_order = signer.token("DD0000000000002", now)
        await alice.say(f"/start {other_order}", expect=2)
        assert "link does not work" in alice.texts()
    assert answers["forged"] == answers["missing"] == answers["expired"]
    assert "link does not work" in answers["forged"][0]


# --- guessing phone digits ---------------------------------------------------------------------


async def test_fresh_accounts_guessing_digits_never_get_in(emulator, shop_url, tmp_path):
    order_no = (await orders_of(shop_url, ALICE))[POWER_BANK]
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        owner = await at_menu(bot.emu)  # Alice, by her own contact
        for n in range(3):
            guesser = Customer(bot.emu, bot.emu.create_user(first_name=f"G{n}"))
            await guesser.say("/start", expect=2)
            for guess in range(5):
                await guesser.say(order_no)
                if "last four digits" not in guesser.last.text:
                    break
                await guesser.say(f"{n}{guess}00", expect=2)
        lucky = Customer(bot.emu, bot.emu.create_user(first_name="Lucky"))
        await lucky.say("/start", expect=2)
        await lucky.say(order_no)
        assert "cannot be confirmed with phone digits" in lucky.texts()
        assert not lucky.has_button("New request")
        await owner.say("/menu")
        assert owner.has_button("New request")  # Alice's own chat is hers still


# --- groups ------------------------------------------------------------------------------------


async def test_a_customers_button_pressed_in_a_group_opens_nothing_there(
    emulator, shop_url, tmp_path
):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        emu = bot.emu
        alice = await at_menu(emu)
        group = emu.create_group("Family", members=[alice.user])
        button = next(b for b in alice.last.buttons if "New request" in b["text"])
        emu.enqueue("callback_query", {
            "id": "774411", "from": alice.user.to_api(), "chat_instance": "9",
            "data": button["callback_data"],
            "message": {"message_id": 1, "date": 0,
                        "chat": {"id": group.id, "type": "supergroup", "title": "Family"}},
        })  # fmt: skip
        await emu.wait_until(lambda: bool(emu.calls_to("answerCallbackQuery")), 10)
        await asyncio.sleep(0.3)
        assert emu.sent_messages(group.id) == []
        assert alice.has_button("New request")  # her own chat did not move either
    chats = select(func.count()).select_from(Conversation).where(Conversation.chat_id == group.id)
    assert await scalar(shop_url, chats) == 0


# --- evidence ----------------------------------------------------------------------------------


async def test_photos_from_a_stranger_are_not_downloaded(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        stranger = Customer(bot.emu, bot.emu.create_user(first_name="Eve"))
        await stranger.say("/start", expect=2)
        for n in range(5):
            await stranger.send_photo(bytes([n]) * 4000)
        assert bot.emu.calls_to("getFile") == []
    assert evidence_files(tmp_path) == []


async def test_an_album_past_the_maximum_keeps_ten_files_and_no_more(emulator, shop_url, tmp_path):
    previous = os.umask(0)  # even so: the files are the bot's alone
    try:
        async with running_bot(emulator, shop_url, tmp_path) as bot:
            alice = await at_menu(bot.emu)
            await at_evidence(alice, shop_url)
            await alice.send_album(11)
            assert len(evidence_files(tmp_path)) == 10
            await alice.send_photo(b"\xff\xd8" + b"z" * 3000)  # an 11th: not kept, not left
            await alice.tap("Done")
            await alice.tap("Confirm")
    finally:
        os.umask(previous)
    files = evidence_files(tmp_path)
    assert len(files) == 10
    assert stat.S_IMODE((tmp_path / "evidence").stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in files} == {0o600}
    rows = select(func.count()).select_from(Evidence).where(Evidence.local_path.is_not(None))
    assert await scalar(shop_url, rows) == 10


async def test_a_cancelled_request_leaves_no_photos_behind(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        alice = await at_menu(bot.emu)
        await at_evidence(alice, shop_url)
        await alice.send_album(3)
        assert len(evidence_files(tmp_path)) == 3
        await alice.say("/cancel", expect=2)
    assert evidence_files(tmp_path) == []


async def test_a_file_without_a_declared_size_is_cut_off_at_the_limit(emulator, shop_url, tmp_path):
    policy = tmp_path / "small.yaml"
    standard = (PROJECT_ROOT / "policies" / "standard.yaml").read_text(encoding="utf-8")
    policy.write_text(standard.replace("currency: CNY", "currency: CNY\nevidence_max_mb: 1"))
    async with running_bot(emulator, shop_url, tmp_path, policy=str(policy)) as bot:
        emu = bot.emu
        alice = await at_menu(emu)
        await at_evidence(alice, shop_url)
        for declared in (None, -1):
            sizes = media_object(emu, "photo", b"\xff" * (1024 * 1024 + 10))
            for size in sizes:
                size.pop("file_size", None)
                if declared is not None:
                    size["file_size"] = declared
            before = len(alice.messages())
            await alice._after(emu._user_message(alice.user, {"photo": sizes}))
            said = [m.text or "" for m in alice.messages()[before:]]
            assert any("too large: the limit is 1 MB" in text for text in said), said
        assert emu.calls_to("getFile")  # it was fetched, and the fetch was cut off
    assert evidence_files(tmp_path) == []


# --- edits -------------------------------------------------------------------------------------


async def test_an_edited_description_is_taken_and_other_edits_are_answered(
    emulator, shop_url, tmp_path
):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        emu = bot.emu
        alice = await at_menu(emu)
        await alice.tap("New request")
        await alice.tap((await orders_of(shop_url, ALICE))[POWER_BANK])
        await alice.tap("Anker 737")
        await alice.tap("Return and refund")
        await alice.tap("Quality problem")
        typo = await emu.user_sends_text(alice.user, "It stops chargign")
        await emu.wait_until(lambda: "photo" in (alice.last.text or ""), 10)
        await alice._after(emu.user_edits_text(alice.user, typo["message"], "It stops charging"))
        assert "description has been updated" in alice.last.text
        hello = next(m for m in emu.chats[alice.user.id].messages.values()
                     if m.get("text") == "/start")  # fmt: skip
        await alice._after(emu.user_edits_text(alice.user, hello, "/menu"))
        assert "don't read edited messages" in alice.last.text
        await alice.send_photo(b"\xff\xd8" + b"q" * 3000)
        await alice.tap("Done")
        assert "It stops charging" in alice.last.text and "chargign" not in alice.last.text
        await alice.tap("Confirm")
    assert await scalar(shop_url, select(Case.description)) == "It stops charging"
