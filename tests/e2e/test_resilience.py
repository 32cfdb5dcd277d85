"""What happens when things go wrong: webhooks, Telegram errors, blocked users, crashes."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.emulator.server import EmulatorServer
from bot.update_shape import identity
from storage import migrate
from storage.db import Database
from storage.demo import load_demo
from storage.models import Case, Inbox, Outbox
from storage.repos import InboxRepo
from tests.e2e.harness import (
    TOKEN,
    WEBHOOK_SECRET,
    Customer,
    orders_of,
    running_bot,
    seed_demo,
)

ALICE = "+447700900123"
POWER_BANK = "Anker 737 Power Bank (PowerCore 24K), 140W"


@pytest.fixture
async def shop_url(database_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, database_url)
    await seed_demo(database_url)
    return database_url


async def count(url: str, model: type, *where: object) -> int:
    db = Database(url)
    try:
        async with db.read() as s:
            return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)
    finally:
        await db.dispose()


async def to_menu(emu, language: str = "en") -> Customer:
    alice = Customer(emu, emu.create_user(first_name="Alice", language_code=language))
    await alice.say("/start", expect=2)
    await alice.share_contact(ALICE, expect=2)
    assert alice.has_button("New request"), alice.texts()
    return alice


async def test_webhook_mode_end_to_end(emulator: EmulatorServer, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path, webhook=True) as bot:
        emu = bot.emu
        await emu.wait_until(lambda: bool(emu.calls_to("setWebhook")), 10)
        [call] = emu.calls_to("setWebhook")
        assert call.params["secret_token"] == WEBHOOK_SECRET
        alice = await to_menu(emu)
        await alice.tap("New request")
        assert "Choose an order" in alice.last.text
        # Someone who is not Telegram: no secret, no effect.
        url = bot.runtime.settings.webhook_url
        assert url is not None
        fake = {"update_id": 999_999, "message": {"message_id": 1, "date": 0, "text": "/start",
                "chat": {"id": 42, "type": "private"}, "from": {"id": 42, "is_bot": False,
                                                               "first_name": "X"}}}  # fmt: skip
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(url, json=fake, headers=headers) as response:
                    assert response.status == 401
        assert emu.webhook.stats.attempts and all(a.ok for a in emu.webhook.stats.attempts)
    assert await count(shop_url, Inbox, Inbox.update_id == 999_999) == 0
    # The webhook stays registered across a stop: a restart needs it.
    assert not emulator.emulator.calls_to("deleteWebhook")


async def test_telegram_429_then_success(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        emu = bot.emu
        alice = await to_menu(emu)
        emu.faults.fail_next("editMessageText", status=429, retry_after=1)
        await alice.tap("New request", seconds=15)
        assert "Choose an order" in alice.last.text
        edits = emu.calls_to("editMessageText")
        assert [c.error_code for c in edits[-2:]] == [429, None]
        assert edits[-1].at - edits[-2].at >= 0.9  # waited retry_after
    assert await count(shop_url, Outbox, Outbox.status != "sent") == 0


async def test_telegram_500_then_success(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        emu = bot.emu
        alice = Customer(emu, emu.create_user(first_name="Alice", language_code="en"))
        emu.faults.fail_next("sendMessage", status=500)
        await alice.say("/start", expect=2, seconds=15)
        texts = [m.text or "" for m in alice.messages()]
        assert len(texts) == 2 and "Hello" in texts[0]  # once each, in order
        assert [c.error_code for c in emu.calls_to("sendMessage")][:2] == [500, None]


async def test_a_blocked_user_is_not_retried(emulator, shop_url, tmp_path):
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        emu = bot.emu
        alice = await to_menu(emu)
        sent_before = len(emu.calls_to("sendMessage"))
        await emu.user_blocks_bot(alice.user)
        # The bot has something to say after the block (later, status news will): twice.
        for event_id in (10_000_001, 10_000_002):
            await _handle(bot.runtime, _help_event(alice.user.id, event_id))
            await asyncio.sleep(0.5)
        refused = [c for c in emu.calls_to("sendMessage")[sent_before:] if c.error_code == 403]
        assert len(refused) <= 1  # tried once at most, then the chat is known to be blocked
    chat = Outbox.chat_id == alice.user.id
    assert await count(shop_url, Outbox, chat, Outbox.status == "blocked") >= 2
    assert await count(shop_url, Outbox, Outbox.status == "pending") == 0


def _help_event(chat_id: int, event_id: int):
    from dialogs.events import Event

    return Event(event_id, chat_id, chat_id, "command", command="help")


async def _handle(runtime, event) -> None:
    """An event made up by the test, stored and worked like one that came from Telegram."""
    from dataclasses import replace

    from dialogs.work import CustomerInput, Job

    units = runtime.processor.units
    inbox_id = await units.record_event(event.event_id, event.chat_id, {}, datetime.now(UTC))
    assert inbox_id is not None
    job = Job(event.chat_id, CustomerInput(replace(event, event_id=inbox_id)), (inbox_id,))
    await runtime.work.run(job)


async def test_stored_but_unprocessed_updates_resume_after_a_crash(emulator, shop_url, tmp_path):
    # The process died after storing an update and confirming it to Telegram, before working on
    # it: Telegram will not send it again, the inbox still has it.
    emu = emulator.emulator
    user = emu.create_user(first_name="Alice", language_code="en")
    update = await emu.user_sends_text(user, "/start")
    db = Database(shop_url)
    async with db.transaction() as s:
        await InboxRepo(s).record(
            update["update_id"], identity(update), user.id, update, datetime.now(UTC)
        )
    await db.dispose()
    async with running_bot(emulator, shop_url, tmp_path) as bot:
        await emu.wait_until(lambda: len(emu.sent_messages(user.id)) >= 2, 10)
        assert "Hello" in (emu.sent_messages(user.id)[0].text or "")
        assert bot.runtime.processor.in_hand == 0
    assert await count(shop_url, Inbox, Inbox.status != "done") == 0


async def test_sigkill_mid_flow_and_restart(emulator: EmulatorServer, tmp_path: Path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'killed.db'}"
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url)
    await load_demo(db, datetime.now(UTC))  # the real clock: the bot runs as a process
    await db.dispose()
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": emulator.base_url,
        "DATABASE_URL": url,
        "EVIDENCE_DIR": str(tmp_path / "evidence"),
        "LINK_SECRET": "sigkill-test-link-secret",
    }

    log = tmp_path / "bot.log"

    async def start() -> asyncio.subprocess.Process:
        with log.open("ab") as stderr:
            return await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", env=env, cwd=tmp_path,
                stdout=asyncio.subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip

    emu = emulator.emulator
    process = await start()
    try:
        await emu.wait_until(lambda: bool(emu.calls_to("getUpdates")), 30)
        alice = await to_menu(emu)
        await alice.tap("New request")
        await alice.tap((await orders_of(url, ALICE))[POWER_BANK])
        await alice.tap("Anker 737")
        assert "Please choose a service" in alice.last.text
        process.send_signal(signal.SIGKILL)
        await process.wait()
        # While the bot is dead the customer goes on; Telegram keeps the update.
        await emu.user_clicks(alice.user, alice.last, _button(alice, "Return and refund"))
        seen = [(m.message_id, m.text, len(m.history)) for m in alice.messages()]
        process = await start()
        await emu.wait_until(lambda: "what is the reason" in (alice.last.text or ""), 30)
        await alice.tap("Quality problem")
        assert "describe the problem" in alice.last.text
        # Nothing was lost and nothing was sent twice.
        texts = [m.text for m in alice.messages()]
        assert len(texts) == len(set(texts)) or texts.count(texts[-1]) == 1
        assert all(any(m.message_id == mid for m in alice.messages()) for mid, _, _ in seen)
        assert emu.unanswered_callbacks() == []
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)
    assert process.returncode == 0  # SIGTERM: finished what it had, flushed, exited cleanly
    lines = log.read_text().splitlines()
    assert sum("running as @" in line for line in lines) == 2
    # The log says what the bot did, not every step of every customer's state machine.
    assert not [line for line in lines if " transitions" in line]
    assert await count(url, Case) == 0
    assert await count(url, Outbox, Outbox.status == "pending") == 0


def _button(customer: Customer, label: str) -> str:
    return next(b["callback_data"] for b in customer.last.buttons if label in b["text"])
