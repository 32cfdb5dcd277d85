"""A customer conversation through a real aiogram Bot: text, keyboard, click, answer, edit."""

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.emulator import Emulator


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=d.title(), callback_data=d) for d in data]]
    )


async def test_text_keyboard_click_answer_edit(bot: Bot, emu: Emulator):
    user = emu.create_user(first_name="Ann", username="ann", language_code="de")
    await emu.user_sends_text(user, "/start")
    [update] = await bot.get_updates()
    assert update.message.entities[0].type == "bot_command"
    assert update.message.from_user.language_code == "de"

    sent = await bot.send_message(
        user.id, "Return or repair?", reply_markup=keyboard("return", "repair")
    )
    observed = emu.last_message(user)
    assert observed.button_data() == ["return", "repair"]

    click = await emu.user_clicks(user, observed, "repair")
    assert [c.id for c in emu.unanswered_callbacks()] == [click["callback_query"]["id"]]
    [cb_update] = await bot.get_updates(offset=update.update_id + 1)
    query = cb_update.callback_query
    assert query.data == "repair" and query.message.message_id == sent.message_id

    assert await bot.answer_callback_query(query.id, text="OK")
    edited = await bot.edit_message_text(
        chat_id=user.id, message_id=sent.message_id, text="Repair it is."
    )
    assert edited.edit_date is not None
    assert emu.unanswered_callbacks() == []
    observed = emu.last_message(user)
    assert observed.text == "Repair it is."
    assert observed.reply_markup is None  # an edit without reply_markup drops the keyboard
    assert [v.text for v in observed.history] == ["Return or repair?"]
    assert emu.validation_errors == [] and emu.api_errors == []


async def test_message_ids_increase_per_chat_and_date_uses_the_clock(server, bot: Bot):
    emu = server.emulator
    emu.clock = lambda: 1_700_000_000.0
    ann, bob = emu.create_user(), emu.create_user()
    for user in (ann, bob):
        await emu.user_sends_text(user, "hi")
    a1 = await bot.send_message(ann.id, "1")
    a2 = await bot.send_message(ann.id, "2")
    b1 = await bot.send_message(bob.id, "1")
    assert a2.message_id == a1.message_id + 1 == 3
    assert b1.message_id == 2
    assert a1.date.timestamp() == 1_700_000_000


async def test_not_modified_is_an_api_error_not_a_validation_error(bot: Bot, emu: Emulator):
    user = emu.create_user()
    await emu.user_sends_text(user, "hi")
    sent = await bot.send_message(user.id, "Same", reply_markup=keyboard("a"))
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            chat_id=user.id, message_id=sent.message_id, text="Same", reply_markup=keyboard("a")
        )
    await bot.edit_message_reply_markup(
        chat_id=user.id, message_id=sent.message_id, reply_markup=keyboard("b")
    )
    assert emu.last_message(user).button_data() == ["b"]
    assert emu.validation_errors == []
    assert [e.method for e in emu.api_errors] == ["editMessageText"]


async def test_edit_or_delete_missing_messages(bot: Bot, emu: Emulator):
    user = emu.create_user()
    await emu.user_sends_text(user, "hi")
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(chat_id=user.id, message_id=999, text="x")
    sent = await bot.send_message(user.id, "bye")
    assert await bot.delete_message(user.id, sent.message_id)
    assert emu.last_message(user).deleted
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(user.id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(chat_id=user.id, message_id=sent.message_id, text="x")


async def test_expired_and_double_answered_callbacks(server, bot: Bot):
    emu = server.emulator
    now = [1000.0]
    emu.clock = lambda: now[0]
    user = emu.create_user()
    await emu.user_sends_text(user, "hi")
    await bot.send_message(user.id, "pick", reply_markup=keyboard("a"))
    first = await emu.user_clicks(user, emu.last_message(user), "a")
    second = await emu.user_clicks(user, emu.last_message(user), "a")
    assert await bot.answer_callback_query(first["callback_query"]["id"])
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(first["callback_query"]["id"])
    now[0] += emu.callback_ttl + 1
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(second["callback_query"]["id"])
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query("nonsense")
    assert len(emu.api_errors) == 3 and emu.validation_errors == []


async def test_clicking_a_button_that_does_not_exist_is_a_test_bug(bot: Bot, emu: Emulator):
    user = emu.create_user()
    await emu.user_sends_text(user, "hi")
    await bot.send_message(user.id, "pick", reply_markup=keyboard("a"))
    with pytest.raises(LookupError):
        await emu.user_clicks(user, emu.last_message(user), "b")


async def test_chat_not_found_and_blocked_user(bot: Bot, emu: Emulator):
    stranger = emu.create_user()
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(stranger.id, "hello?")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(987654, "hello?")
    await emu.user_sends_text(stranger, "/start")
    await emu.user_blocks_bot(stranger)
    from aiogram.exceptions import TelegramForbiddenError

    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(stranger.id, "hello?")
    updates = await bot.get_updates()
    assert updates[-1].my_chat_member.new_chat_member.status == "kicked"
    await emu.user_unblocks_bot(stranger)
    await bot.send_message(stranger.id, "welcome back")
    assert emu.validation_errors == []
    assert [e.error_code for e in emu.api_errors] == [400, 400, 403]


async def test_wait_for_messages(bot: Bot, emu: Emulator):
    import asyncio

    user = emu.create_user()
    await emu.user_sends_text(user, "hi")

    async def reply_later():
        await asyncio.sleep(0.1)
        await bot.send_message(user.id, "later")

    task = asyncio.create_task(reply_later())
    [message] = await emu.wait_for_messages(user, 1, timeout=2)
    assert message.text == "later"
    await task
    with pytest.raises(TimeoutError):
        await emu.wait_for_messages(user, 2, timeout=0.2)


async def test_contacts_and_other_user_content_parse_in_aiogram(bot: Bot, emu: Emulator):
    user = emu.create_user(first_name="Ann")
    await emu.user_sends_contact(user, "+491701234567")
    await emu.user_sends_contact(user, "+491700000000", user_id=777)
    await emu.user_sends_location(user, 52.5, 13.4)
    await emu.user_sends_poll(user, "Which?", ["a", "b"])
    await emu.user_sends_sticker(user)
    await emu.user_sends_voice(user, b"ogg")
    await emu.user_sends_video(user, b"mp4", caption="see")
    await emu.user_sends_document(user, b"%PDF", "receipt.pdf", "application/pdf")
    updates = await bot.get_updates()
    messages = [u.message for u in updates]
    assert messages[0].contact.user_id == user.id
    assert messages[1].contact.user_id == 777
    assert messages[2].location.latitude == 52.5
    assert messages[3].poll.options[1].text == "b"
    assert messages[4].sticker.emoji == "👍"
    assert messages[5].voice.duration == 3
    assert messages[6].video.duration == 5 and messages[6].caption == "see"
    assert messages[7].document.file_name == "receipt.pdf"


async def test_editing_for_a_user_who_blocked_the_bot_is_forbidden(bot: Bot, emu: Emulator):
    from aiogram.exceptions import TelegramForbiddenError

    user = emu.create_user()
    await emu.user_sends_text(user, "hi")
    sent = await bot.send_message(user.id, "status: open")
    await emu.user_blocks_bot(user)
    with pytest.raises(TelegramForbiddenError):
        await bot.edit_message_text(chat_id=user.id, message_id=sent.message_id, text="closed")
