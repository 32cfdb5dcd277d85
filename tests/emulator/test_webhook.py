"""Webhook mode: delivery with the secret header, redelivery with backoff, 409 for getUpdates."""

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramConflictError

from bot.emulator import Emulator


async def test_delivery_with_secret_header(bot: Bot, emu: Emulator, receiver):
    target, url = receiver
    assert await bot.set_webhook(url, secret_token="s3cret_token-1")
    user = emu.create_user()
    update = await emu.user_sends_text(user, "hello hook")
    await emu.wait_until(lambda: len(target.received) == 1, timeout=3)
    body, secret = target.received[0]
    assert body == update and secret == "s3cret_token-1"
    info = await bot.get_webhook_info()
    assert info.url == url and info.pending_update_count == 0


async def test_redelivery_after_errors_with_backoff(bot: Bot, emu: Emulator, receiver):
    target, url = receiver
    target.failures = 2
    emu.webhook.retry_base = 0.05
    await bot.set_webhook(url)
    user = emu.create_user()
    update = await emu.user_sends_text(user, "retry me")

    # The emulator records an attempt once the response is back, after the receiver has it.
    def tried() -> list:
        return [a for a in emu.webhook.stats.attempts if a.update_id == update["update_id"]]

    await emu.wait_until(lambda: len(tried()) >= 3, timeout=3)
    assert len(target.received) == 1
    attempts = tried()
    assert [a.attempt for a in attempts] == [1, 2, 3]
    assert [a.ok for a in attempts] == [False, False, True]
    assert attempts[2].at >= attempts[1].at >= attempts[0].at
    info = await bot.get_webhook_info()
    assert info.last_error_message == "Wrong response from the webhook: 500"


async def test_get_updates_conflicts_while_webhook_is_set(bot: Bot, emu: Emulator, receiver):
    _, url = receiver
    await bot.set_webhook(url)
    with pytest.raises(TelegramConflictError):
        await bot.get_updates()
    assert await bot.delete_webhook()
    assert await bot.get_updates() == []


async def test_drop_pending_updates(bot: Bot, emu: Emulator, receiver):
    target, url = receiver
    user = emu.create_user()
    await emu.user_sends_text(user, "old")
    await bot.set_webhook(url, drop_pending_updates=True)
    await asyncio.sleep(0.1)
    assert target.received == []


async def test_duplicate_delivery_via_redeliver(bot: Bot, emu: Emulator, receiver):
    target, url = receiver
    await bot.set_webhook(url)
    user = emu.create_user()
    update = await emu.user_sends_text(user, "twice")
    await emu.wait_until(lambda: len(target.received) == 1, timeout=3)
    emu.redeliver(update)
    await emu.wait_until(lambda: len(target.received) == 2, timeout=3)
    assert target.received[0][0]["update_id"] == target.received[1][0]["update_id"]


async def test_method_call_in_webhook_response(bot: Bot, emu: Emulator, receiver):
    target, url = receiver
    user = emu.create_user()
    target.reply = {"method": "sendMessage", "chat_id": user.id, "text": "answered inline"}
    await bot.set_webhook(url)
    await emu.user_sends_text(user, "hi")
    [message] = await emu.wait_for_messages(user, 1, timeout=3)
    assert message.text == "answered inline"


async def test_undelivered_updates_survive_delete_webhook(bot: Bot, emu: Emulator, receiver):
    target, url = receiver
    target.failures = 100
    emu.webhook.retry_base = 0.05
    await bot.set_webhook(url)
    user = emu.create_user()
    update = await emu.user_sends_text(user, "keep me")
    await emu.wait_until(lambda: len(emu.webhook.stats.attempts) >= 2, timeout=3)
    await bot.delete_webhook()
    [got] = await bot.get_updates()
    assert got.update_id == update["update_id"]
