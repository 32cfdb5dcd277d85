"""Update ids that restart: after a week without updates Telegram picks the next id at random."""

import pytest
from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.emulator import Emulator
from bot.emulator.state import SimUser
from tests.emulator.conftest import Receiver

FIRST = 100_000_001


@pytest.fixture
def user(emu: Emulator) -> SimUser:
    return emu.create_user()


async def _delivered_and_confirmed(bot: Bot, emu: Emulator, user: SimUser, count: int) -> int:
    """Send and confirm `count` updates; return the offset the bot would keep polling with."""
    for i in range(count):
        await emu.user_sends_text(user, f"old {i}")
    got = await bot.get_updates()
    offset = got[-1].update_id + 1
    assert await bot.get_updates(offset=offset) == []
    return offset


async def test_reset_gives_the_next_update_exactly_that_id(emu: Emulator, user: SimUser):
    await emu.user_sends_text(user, "a")
    emu.reset_update_ids(7)
    assert (await emu.user_sends_text(user, "b"))["update_id"] == 7
    assert (await emu.user_sends_text(user, "c"))["update_id"] == 8
    emu.continue_update_ids(3)  # continue never moves ids back
    assert (await emu.user_sends_text(user, "d"))["update_id"] == 9


def test_reset_refuses_non_positive_ids(emu: Emulator):
    with pytest.raises(ValueError, match="positive"):
        emu.reset_update_ids(0)


async def test_lower_id_is_delivered_without_offset(bot: Bot, emu: Emulator, user: SimUser):
    await _delivered_and_confirmed(bot, emu, user, 2)
    emu.reset_update_ids(5)
    update = await emu.user_sends_text(user, "after a quiet week")
    [got] = await bot.get_updates()
    assert (got.update_id, got.message.text) == (5, "after a quiet week")
    assert update["update_id"] == 5


@pytest.mark.parametrize("offset", [1, 5])
async def test_lower_id_is_delivered_with_an_offset_up_to_it(
    bot: Bot, emu: Emulator, user: SimUser, offset: int
):
    await _delivered_and_confirmed(bot, emu, user, 2)
    emu.reset_update_ids(5)
    await emu.user_sends_text(user, "new")
    [got] = await bot.get_updates(offset=offset)
    assert got.update_id == 5
    assert await bot.get_updates(offset=6) == []


async def test_a_stale_higher_offset_drops_the_new_updates(bot: Bot, emu: Emulator, user: SimUser):
    # Telegram's semantics: offset confirms every update with a lower id, so a bot that keeps
    # polling with its old offset after a reset to lower ids loses them.
    stale = await _delivered_and_confirmed(bot, emu, user, 2)
    emu.reset_update_ids(5)
    await emu.user_sends_text(user, "lost")
    assert await bot.get_updates(offset=stale) == []
    assert await bot.get_updates() == []
    assert emu.polled_offsets() == [None, stale, stale, None]


async def test_offset_confirms_by_id_not_by_position(bot: Bot, emu: Emulator, user: SimUser):
    for text in ("old 1", "old 2"):
        await emu.user_sends_text(user, text)
    emu.reset_update_ids(5)
    for text in ("new 5", "new 6"):
        await emu.user_sends_text(user, text)
    got = await bot.get_updates(offset=6)
    assert [(u.update_id, u.message.text) for u in got] == [
        (FIRST, "old 1"),
        (FIRST + 1, "old 2"),
        (6, "new 6"),
    ]


async def test_repeated_ids_are_delivered_in_queue_order(bot: Bot, emu: Emulator, user: SimUser):
    await emu.user_sends_text(user, "first")
    emu.reset_update_ids(FIRST)
    second = await emu.user_sends_text(user, "second")
    got = await bot.get_updates()
    assert [(u.update_id, u.message.text) for u in got] == [(FIRST, "first"), (FIRST, "second")]
    assert emu.updates_by_id[FIRST] is second  # the newest owns the id
    assert await bot.get_updates(offset=FIRST + 1) == []


async def test_redeliver_after_a_reset_hands_out_that_very_update(
    bot: Bot, emu: Emulator, user: SimUser
):
    offset = await _delivered_and_confirmed(bot, emu, user, 1)
    emu.reset_update_ids(FIRST)
    again = await emu.user_sends_text(user, "same id, new text")
    [got] = await bot.get_updates(offset=FIRST)
    emu.redeliver(again)
    [dup] = await bot.get_updates(offset=offset)
    assert (dup.update_id, dup.message.text) == (got.update_id, "same id, new text")


async def test_offsets_are_recorded(bot: Bot, emu: Emulator, user: SimUser):
    await bot.get_updates()
    await bot.get_updates(offset=42, timeout=0)
    await bot.get_updates(offset=-1)
    assert emu.polled_offsets() == [None, 42, -1]
    # the raw wire value stays in CallRecord.params (aiogram form-encodes it)
    assert [c.params.get("offset") for c in emu.calls_to("getUpdates")] == [None, "42", "-1"]


async def test_clicks_with_a_repeated_update_id_are_tracked_apart(
    bot: Bot, emu: Emulator, user: SimUser
):
    await emu.user_sends_text(user, "hi")
    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="yes")]]
    )
    sent = await bot.send_message(user.id, "Sure?", reply_markup=keyboard)
    emu.reset_update_ids(3)
    first = await emu.user_clicks(user, sent.message_id, "yes")
    emu.reset_update_ids(3)
    second = await emu.user_clicks(user, sent.message_id, "yes")
    assert first["update_id"] == second["update_id"] == 3
    assert len(emu.unanswered_callbacks()) == 2
    await bot.answer_callback_query(second["callback_query"]["id"], text="second")
    record = await emu.wait_for_callback_answer(second, timeout=1)
    assert record.answer == {"text": "second"}
    assert [c.update_id for c in emu.unanswered_callbacks()] == [3]
    assert emu.unanswered_callbacks()[0].id == first["callback_query"]["id"]


async def test_lower_id_is_delivered_via_webhook(
    bot: Bot, emu: Emulator, user: SimUser, receiver: tuple[Receiver, str]
):
    target, url = receiver
    await bot.set_webhook(url)
    await emu.user_sends_text(user, "before")
    emu.reset_update_ids(5)
    await emu.user_sends_text(user, "after")
    emu.reset_update_ids(5)
    await emu.user_sends_text(user, "again 5")
    # An attempt is recorded once its response is back, after the receiver has the body.
    await emu.wait_until(lambda: len(emu.webhook.stats.attempts) >= 3, timeout=3)
    received = [(u["update_id"], u["message"]["text"]) for u, _ in target.received]
    assert received == [(FIRST, "before"), (5, "after"), (5, "again 5")]
    deliveries = [a.delivery for a in emu.webhook.stats.attempts if a.update_id == 5]
    assert len(set(deliveries)) == 2
    assert (await bot.get_webhook_info()).pending_update_count == 0


async def test_undelivered_repeated_ids_survive_delete_webhook(
    bot: Bot, emu: Emulator, user: SimUser, receiver: tuple[Receiver, str]
):
    target, url = receiver
    target.failures = 1000
    emu.webhook.retry_base = 0.05
    await bot.set_webhook(url)
    await emu.user_sends_text(user, "first")
    emu.reset_update_ids(FIRST)
    await emu.user_sends_text(user, "second")
    await emu.wait_until(lambda: len(emu.webhook.stats.attempts) >= 4, timeout=3)
    assert (await bot.get_webhook_info()).pending_update_count == 2
    await bot.delete_webhook()
    got = await bot.get_updates()
    assert [(u.update_id, u.message.text) for u in got] == [(FIRST, "first"), (FIRST, "second")]
