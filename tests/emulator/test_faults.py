"""Fault switches seen from aiogram: scripted errors, slowness, dropped sockets, flood limits."""

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from bot.emulator import Emulator


@pytest.fixture
async def user(emu: Emulator):
    customer = emu.create_user()
    await emu.user_sends_text(customer, "hi")
    return customer


async def test_429_then_success(bot: Bot, emu: Emulator, user):
    emu.faults.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(user.id, "first try")
    assert caught.value.retry_after == 7
    assert "retry after 7" in caught.value.message
    await bot.send_message(user.id, "second try")
    assert [m.text for m in emu.sent_messages(user)] == ["second try"]
    assert [c.fault for c in emu.calls_to("sendMessage")] == ["fail", None]
    assert emu.validation_errors == [] and emu.api_errors == []


@pytest.mark.parametrize("status", [500, 502])
async def test_server_errors(bot: Bot, emu: Emulator, user, status: int):
    emu.faults.fail_next("sendMessage", status=status, times=2)
    for _ in range(2):
        with pytest.raises(TelegramServerError):
            await bot.send_message(user.id, "x")
    await bot.send_message(user.id, "x")


async def test_any_method_wildcard(bot: Bot, emu: Emulator):
    emu.faults.fail_next("*", status=500)
    with pytest.raises(TelegramServerError):
        await bot.get_me()
    await bot.get_me()


async def test_dropped_connection(bot: Bot, emu: Emulator, user):
    emu.faults.drop_connection("sendMessage")
    with pytest.raises(TelegramNetworkError):
        await bot.send_message(user.id, "lost")
    await bot.send_message(user.id, "delivered")
    assert [m.text for m in emu.sent_messages(user)] == ["delivered"]


async def test_slow_method(bot: Bot, emu: Emulator, user):
    emu.faults.slow("sendMessage", 0.3, times=1)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await bot.send_message(user.id, "slow")
    assert loop.time() - started >= 0.3
    started = loop.time()
    await bot.send_message(user.id, "fast")
    assert loop.time() - started < 0.3


async def test_rate_limits_are_measured_when_not_enforced(bot: Bot, emu: Emulator, user):
    emu.rate_limits.clock = lambda: 1000.0  # frozen: every message lands in the same instant
    for i in range(8):
        await bot.send_message(user.id, str(i))
    stats = emu.stats()
    assert stats["messages_sent"] == 8
    assert stats["rate_limit_exceeded"] == 3  # burst of 5 tolerated
    assert stats["rate_limit_exceeded_by_chat"] == {user.id: 3}


async def test_rate_limits_enforced_answer_429(bot: Bot, emu: Emulator, user):
    now = [1000.0]
    emu.rate_limits.clock = lambda: now[0]
    emu.rate_limits.enforce = True
    for i in range(5):
        await bot.send_message(user.id, str(i))
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(user.id, "too fast")
    assert caught.value.retry_after == 1
    now[0] += 1
    await bot.send_message(user.id, "after waiting")
    assert emu.api_errors[0].error_code == 429


async def test_group_limit_is_per_minute(bot: Bot, emu: Emulator):
    now = [1000.0]
    emu.rate_limits.clock = lambda: now[0]
    emu.rate_limits.enforce = True
    member = emu.create_user()
    group = emu.create_group("Support", members=[member], is_forum=False)
    for i in range(20):
        await bot.send_message(group.id, str(i))
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(group.id, "21st")
    assert caught.value.retry_after == 3  # one message every 3 s at 20/min
