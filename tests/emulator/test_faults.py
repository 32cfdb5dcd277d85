"""Fault switches seen from aiogram: scripted errors, slowness, dropped sockets, flood limits."""

import asyncio

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)

from bot.emulator import Emulator

CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
CLIENT_ERRORS = [
    (400, TelegramBadRequest, "Bad Request: wrong parameter"),
    (401, TelegramUnauthorizedError, "Unauthorized"),
    (403, TelegramForbiddenError, "Forbidden: bot was blocked by the user"),
    (409, TelegramConflictError, CONFLICT),
]


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


@pytest.mark.parametrize(("status", "exception", "description"), CLIENT_ERRORS)
async def test_client_error_statuses_map_to_aiogram(
    bot: Bot, emu: Emulator, user, status: int, exception: type, description: str
):
    emu.faults.fail_next("sendMessage", status=status)
    with pytest.raises(exception) as caught:
        await bot.send_message(user.id, "refused")
    assert caught.value.message == description
    [call] = emu.calls_to("sendMessage")
    assert (call.error_code, call.description, call.fault) == (status, description, "fail")
    await bot.send_message(user.id, "accepted")
    assert [m.text for m in emu.sent_messages(user)] == ["accepted"]
    # injected faults are neither validation nor api errors
    assert emu.validation_errors == [] and emu.api_errors == []


@pytest.mark.parametrize(("status", "exception", "description"), CLIENT_ERRORS)
async def test_client_error_statuses_on_any_method(
    bot: Bot, emu: Emulator, status: int, exception: type, description: str
):
    emu.faults.fail_next("*", status=status, times=2)
    with pytest.raises(exception):
        await bot.get_me()
    with pytest.raises(exception) as caught:
        await bot.get_updates()
    assert caught.value.message == description
    await bot.get_me()
    assert emu.faults.triggered == [("getMe", "fail"), ("getUpdates", "fail")]


async def test_conflict_on_get_updates_as_a_second_instance_sees_it(bot: Bot, emu: Emulator):
    emu.faults.fail_next("getUpdates", status=409)
    with pytest.raises(TelegramConflictError, match="only one bot instance"):
        await bot.get_updates(timeout=0)
    assert await bot.get_updates(timeout=0) == []


async def test_description_override(bot: Bot, emu: Emulator, user):
    emu.faults.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    emu.faults.fail_next("sendMessage", status=403, description="Forbidden: user is deactivated")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(user.id, "x")
    with pytest.raises(TelegramForbiddenError, match="user is deactivated"):
        await bot.send_message(user.id, "x")


async def test_other_statuses_get_their_reason_phrase(bot: Bot, emu: Emulator):
    emu.faults.fail_next("getMe", status=418)
    with pytest.raises(TelegramAPIError) as caught:
        await bot.get_me()
    assert caught.value.message == "I'm a Teapot"


async def test_revoked_token_fails_every_call_until_cleared(bot: Bot, emu: Emulator, user):
    emu.faults.fail_always("*", 401)
    for _ in range(3):
        with pytest.raises(TelegramUnauthorizedError, match="Unauthorized"):
            await bot.get_me()
        with pytest.raises(TelegramUnauthorizedError):
            await bot.send_message(user.id, "x")
    emu.faults.clear("*")
    await bot.send_message(user.id, "token is back")
    assert [m.text for m in emu.sent_messages(user)] == ["token is back"]


async def test_fail_always_on_one_method(bot: Bot, emu: Emulator, user):
    emu.faults.fail_always("sendMessage", 403)
    for _ in range(3):
        with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
            await bot.send_message(user.id, "x")
    await bot.get_me()  # other methods are unaffected
    emu.faults.clear("sendMessage")
    await bot.send_message(user.id, "x")


async def test_fail_next_with_times_none_is_fail_always(bot: Bot, emu: Emulator):
    emu.faults.fail_next("getMe", status=500, times=None)
    for _ in range(5):
        with pytest.raises(TelegramServerError):
            await bot.get_me()
    emu.faults.clear()
    await bot.get_me()


async def test_fail_always_429_carries_retry_after(bot: Bot, emu: Emulator):
    emu.faults.fail_always("getMe", 429, retry_after=4)
    for _ in range(2):
        with pytest.raises(TelegramRetryAfter) as caught:
            await bot.get_me()
        assert caught.value.retry_after == 4


def test_times_must_be_positive(emu: Emulator):
    with pytest.raises(ValueError, match="times"):
        emu.faults.fail_next("getMe", status=500, times=0)


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
