"""Payloads rendered as Bot API calls, sent by a real aiogram Bot to the emulator over HTTP."""

import json
from typing import Any

import pytest
from aiogram import Bot

from bot.emulator import Emulator, SimUser
from bot.render import MAX_TEXT, PayloadError, deliver, plan, split_html


@pytest.fixture
async def user(emu: Emulator) -> SimUser:
    customer = emu.create_user(first_name="Ann")
    await emu.user_sends_text(customer, "/start")
    return customer


def message(chat_id: int, text: str, **fields: Any) -> dict[str, Any]:
    return {
        "kind": "message",
        "chat_id": chat_id,
        "text": text,
        "buttons": [],
        "contact_button": None,
        "remove_keyboard": False,
        "edit_message_id": None,
        **fields,
    }


def buttons(*data: str) -> list[list[dict[str, str]]]:
    return [[{"text": d.title(), "data": d} for d in data]]


def decoded(params: dict[str, Any]) -> dict[str, Any]:
    """aiogram posts objects as JSON strings in form fields."""
    return {
        k: json.loads(v) if isinstance(v, str) and v[:1] in "{[" else v for k, v in params.items()
    }


def last_params(emu: Emulator, method: str) -> dict[str, Any]:
    return decoded(emu.calls_to(method)[-1].params)


async def test_html_with_inline_keyboard_and_no_link_preview(
    bot: Bot, emu: Emulator, user: SimUser
):
    sent_id = await deliver(
        bot, message(user.id, "<b>Order</b> A&amp;B https://x.example", buttons=buttons("a", "b"))
    )
    observed = emu.last_message(user)
    assert observed.message_id == sent_id
    assert observed.text == "Order A&B https://x.example"
    assert observed.entities[0]["type"] == "bold"
    assert observed.button_data() == ["a", "b"]
    params = last_params(emu, "sendMessage")
    assert params["parse_mode"] == "HTML"
    assert params["link_preview_options"] == {"is_disabled": True}
    assert emu.validation_errors == []


async def test_contact_keyboard(bot: Bot, emu: Emulator, user: SimUser):
    await deliver(bot, message(user.id, "Share your phone", contact_button="📱 Share"))
    markup = last_params(emu, "sendMessage")["reply_markup"]
    assert markup["keyboard"] == [[{"text": "📱 Share", "request_contact": True}]]
    assert markup["resize_keyboard"] is True and markup["one_time_keyboard"] is True
    assert emu.validation_errors == []


async def test_remove_keyboard(bot: Bot, emu: Emulator, user: SimUser):
    await deliver(bot, message(user.id, "Thanks", remove_keyboard=True))
    assert last_params(emu, "sendMessage")["reply_markup"] == {"remove_keyboard": True}
    assert emu.calls_to("editMessageReplyMarkup") == []
    assert emu.validation_errors == []


async def test_remove_keyboard_and_inline_buttons_make_one_message(
    bot: Bot, emu: Emulator, user: SimUser
):
    sent_id = await deliver(
        bot, message(user.id, "Pick", remove_keyboard=True, buttons=buttons("x"))
    )
    assert last_params(emu, "sendMessage")["reply_markup"] == {"remove_keyboard": True}
    [observed] = emu.sent_messages(user)
    assert observed.message_id == sent_id
    assert observed.button_data() == ["x"]
    assert emu.validation_errors == []


async def test_edit_replaces_the_menu_message(bot: Bot, emu: Emulator, user: SimUser):
    first = await deliver(bot, message(user.id, "Menu", buttons=buttons("a")))
    edited = await deliver(
        bot, message(user.id, "Menu <i>2</i>", buttons=buttons("b"), edit_message_id=first)
    )
    assert edited == first
    [observed] = emu.sent_messages(user)
    assert observed.text == "Menu 2" and observed.button_data() == ["b"]
    assert [v.text for v in observed.history] == ["Menu"]
    assert emu.validation_errors == []


async def test_edit_not_modified_is_success(bot: Bot, emu: Emulator, user: SimUser):
    payload = message(user.id, "Menu", buttons=buttons("a"))
    first = await deliver(bot, payload)
    assert await deliver(bot, {**payload, "edit_message_id": first}) == first
    [error] = emu.api_errors
    assert error.description.startswith("Bad Request: message is not modified")
    assert len(emu.sent_messages(user)) == 1
    assert emu.validation_errors == []


async def test_edit_of_a_missing_message_sends_a_new_one(bot: Bot, emu: Emulator, user: SimUser):
    sent_id = await deliver(
        bot, message(user.id, "Fresh", buttons=buttons("a"), edit_message_id=999)
    )
    [observed] = emu.sent_messages(user)
    assert observed.message_id == sent_id and observed.text == "Fresh"
    assert observed.button_data() == ["a"]
    assert emu.validation_errors == []


async def test_edit_with_a_reply_keyboard_sends_a_new_message(
    bot: Bot, emu: Emulator, user: SimUser
):
    first = await deliver(bot, message(user.id, "Menu"))
    second = await deliver(
        bot, message(user.id, "Phone?", contact_button="Share", edit_message_id=first)
    )
    assert second != first
    assert emu.calls_to("editMessageText") == []
    assert emu.validation_errors == []


async def test_long_text_is_split_on_top_level_lines(bot: Bot, emu: Emulator, user: SimUser):
    line = "<b>Item</b> " + "word " * 30 + "&lt;ok&gt;"
    text = "\n".join(f"{i}. {line}" for i in range(100))
    assert len(text) > 2 * MAX_TEXT
    block = "<blockquote>" + "\n".join(["quoted line"] * 20) + "</blockquote>"
    text = f"{text}\n{block}"
    last_id = await deliver(
        bot, message(user.id, text, buttons=buttons("ok"), remove_keyboard=True)
    )
    sent = emu.sent_messages(user)
    assert len(sent) >= 3
    assert emu.validation_errors == []
    assert sent[-1].message_id == last_id
    assert sent[-1].button_data() == ["ok"] and all(not m.buttons for m in sent[:-1])
    assert decoded(emu.calls_to("sendMessage")[0].params)["reply_markup"] == {
        "remove_keyboard": True
    }
    # nothing lost, nothing cut inside a line
    lines = [ln for m in sent for ln in (m.text or "").split("\n")]
    assert lines[:100] == [f"{i}. Item " + "word " * 30 + "<ok>" for i in range(100)]
    assert lines[100:] == ["quoted line"] * 20
    assert sent[-1].entities[-1]["type"] == "blockquote"


async def test_callback_answer_and_an_expired_one(bot: Bot, emu: Emulator, user: SimUser):
    await deliver(bot, message(user.id, "Pick", buttons=buttons("a")))
    click = await emu.user_clicks(user, emu.last_message(user), "a")
    query_id = click["callback_query"]["id"]
    payload = {
        "kind": "callback_answer",
        "chat_id": user.id,
        "callback_id": query_id,
        "text": "x" * 250,
    }
    assert await deliver(bot, payload) is None
    record = emu.callbacks[query_id]
    assert record.answered and len(record.answer["text"]) == 200
    # answered twice / too old: Telegram says "query is too old"; nothing left to do
    assert await deliver(bot, {**payload, "text": None}) is None
    assert await deliver(bot, {**payload, "callback_id": "nonsense"}) is None
    assert len(emu.api_errors) == 2
    assert emu.validation_errors == []


async def test_photo_album_and_forum_topic(bot: Bot, emu: Emulator, user: SimUser):
    photos = []
    for n in range(12):
        update = await emu.user_sends_photo(user, f"photo {n}".encode())
        photos.append(update["message"]["photo"][-1]["file_id"])
    group = emu.create_group("Agents", is_forum=True)
    thread_id = await deliver(
        bot, {"kind": "create_topic", "chat_id": group.id, "name": "AS-20261126-0007 " + "x" * 200}
    )
    assert thread_id in group.topics and len(group.topics[thread_id].name) == 128
    await deliver(bot, message(group.id, "Case <b>card</b>", message_thread_id=thread_id))
    await deliver(
        bot,
        {"kind": "photo", "chat_id": group.id, "file_id": photos[0], "caption": "<i>evidence</i>",
         "message_thread_id": thread_id},
    )  # fmt: skip
    media = [{"type": "photo", "media": f, "caption": f"#{i}"} for i, f in enumerate(photos[1:])]
    await deliver(
        bot,
        {
            "kind": "media_group",
            "chat_id": group.id,
            "media": media,
            "message_thread_id": thread_id,
        },
    )
    sent = emu.sent_messages(group)
    assert [m.thread_id for m in sent] == [thread_id] * 13
    assert [m.method for m in sent] == [
        "sendMessage",
        "sendPhoto",
        *["sendMediaGroup"] * 10,
        "sendPhoto",
    ]
    assert sent[1].text == "evidence" and sent[-1].text == "#10"
    assert len({m.media_group_id for m in sent[2:12]}) == 1
    assert emu.validation_errors == []


async def test_photo_with_a_caption_too_long_goes_bare_then_as_text(
    bot: Bot, emu: Emulator, user: SimUser
):
    update = await emu.user_sends_photo(user, b"img")
    file_id = update["message"]["photo"][-1]["file_id"]
    caption = "\n".join(["caption line"] * 200)
    await deliver(
        bot, {"kind": "photo", "chat_id": user.id, "file_id": file_id, "caption": caption}
    )
    sent = emu.sent_messages(user)
    assert sent[0].method == "sendPhoto" and sent[0].text is None
    assert [m.method for m in sent[1:]] == ["sendMessage"]
    assert emu.validation_errors == []


def test_callback_data_over_64_bytes_is_refused_before_any_call():
    with pytest.raises(PayloadError, match="64 bytes"):
        plan(message(1, "x", buttons=[[{"text": "t", "data": "é" * 33}]]))


def test_unknown_kind_is_refused():
    with pytest.raises(PayloadError):
        plan({"kind": "sticker", "chat_id": 1})


@pytest.mark.parametrize(
    ("text", "limit", "parts"),
    [
        ("a\nb\nc", 3, ["a\nb", "c"]),
        ("<b>aaaa\nbbbb</b>\ncc", 12, ["<b>aaaa\n</b>", "<b>bbbb</b>", "cc"]),
        ("<i>" + "x" * 10 + "</i>", 12, ["<i>xxxxx</i>", "<i>xxxxx</i>"]),
        ("a &amp; b", 7, ["a &amp;", " b"]),
        ("\n\n<b></b>\n", 10, []),
        ("😀" * 3, 4, ["😀😀", "😀"]),  # UTF-16 units, as Telegram counts
    ],
)
def test_split_html(text: str, limit: int, parts: list[str]):
    assert split_html(text, limit) == parts
