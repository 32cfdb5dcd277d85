"""Requests malformed against the spec are refused with 400 and recorded as validation errors."""

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
)

from bot.emulator import Emulator, EmulatorServer
from tests.emulator.conftest import TOKEN


@pytest.fixture
async def user(emu: Emulator):
    customer = emu.create_user()
    await emu.user_sends_text(customer, "hi")
    return customer


async def call(server: EmulatorServer, method: str, **kwargs) -> tuple[int, dict]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.base_url}/bot{TOKEN}/{method}", **kwargs) as response,
    ):
        return response.status, await response.json()


async def test_text_length_counts_after_entity_parsing(bot: Bot, emu: Emulator, user):
    await bot.send_message(user.id, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(user.id, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(user.id, "<b> </b>", parse_mode="HTML")
    assert [e.description for e in emu.validation_errors] == [
        "Bad Request: message is too long",
        "Bad Request: message text is empty",
    ]


async def test_callback_data_is_limited_to_64_bytes(bot: Bot, emu: Emulator, user):
    def markup(data: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="b", callback_data=data)]]
        )

    await bot.send_message(user.id, "ok", reply_markup=markup("x" * 64))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(user.id, "too long", reply_markup=markup("x" * 65))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(user.id, "bytes, not chars", reply_markup=markup("ü" * 33))
    assert len(emu.validation_errors) == 2
    assert emu.validation_errors[0].method == "sendMessage"


async def test_keyboard_shape(bot: Bot, emu: Emulator, user):
    def button(i: int) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=str(i), callback_data=str(i))

    wide = InlineKeyboardMarkup(inline_keyboard=[[button(i) for i in range(9)]])
    with pytest.raises(TelegramBadRequest, match="too many buttons in row"):
        await bot.send_message(user.id, "x", reply_markup=wide)
    many = InlineKeyboardMarkup(inline_keyboard=[[button(i)] for i in range(101)])
    with pytest.raises(TelegramBadRequest, match="BUTTONS_TOO_MUCH"):
        await bot.send_message(user.id, "x", reply_markup=many)
    two_actions = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="t", callback_data="a", url="https://x.y")]]
    )
    with pytest.raises(TelegramBadRequest, match="exactly one of"):
        await bot.send_message(user.id, "x", reply_markup=two_actions)
    no_action = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="t")]])
    with pytest.raises(TelegramBadRequest, match="exactly one of"):
        await bot.send_message(user.id, "x", reply_markup=no_action)
    assert len(emu.validation_errors) == 4


@pytest.mark.parametrize(
    ("html", "detail"),
    [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<br>", 'Unsupported start tag "br" at byte offset 0'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ('<span class="x">s</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ],
)
async def test_bad_html_cannot_be_parsed(bot: Bot, emu: Emulator, user, html: str, detail: str):
    with pytest.raises(TelegramBadRequest) as caught:
        await bot.send_message(user.id, html, parse_mode="HTML")
    assert caught.value.message == f"Bad Request: can't parse entities: {detail}"
    assert len(emu.validation_errors) == 1


async def test_unknown_missing_and_mistyped_parameters(server: EmulatorServer, emu: Emulator, user):
    status, body = await call(
        server, "sendMessage", json={"chat_id": user.id, "text": "x", "colour": 1}
    )
    assert status == 400 and body["description"] == 'Bad Request: unknown parameter "colour"'
    status, body = await call(server, "sendMessage", data={"chat_id": str(user.id)})
    assert body["description"] == 'Bad Request: parameter "text" is required'
    status, body = await call(server, "sendMessage", json={"chat_id": True, "text": "x"})
    assert "chat_id" in body["description"] and "Integer or String" in body["description"]
    markup = {"inline_keyboard": [[{"text": "a", "callback_data": 5}]]}
    status, body = await call(
        server, "sendMessage", json={"chat_id": user.id, "text": "x", "reply_markup": markup}
    )
    assert body["description"] == (
        'Bad Request: field "reply_markup.inline_keyboard[0][0].callback_data" must be of type '
        "String, got Integer"
    )
    bad_scope = {"commands": [{"command": "start", "description": "Go"}], "scope": {"type": "moon"}}
    status, body = await call(server, "setMyCommands", json=bad_scope)
    assert "unsupported value 'moon'" in body["description"]
    status, body = await call(
        server,
        "sendMessage",
        json={"chat_id": user.id, "text": "x", "reply_parameters": {"foo": 1}},
    )
    assert 'unknown field "reply_parameters.foo" in ReplyParameters' in body["description"]
    assert len(emu.validation_errors) == 6
    assert emu.validation_errors[0].params["colour"] == 1


async def test_form_encoded_values_are_coerced(server: EmulatorServer, emu: Emulator, user):
    status, body = await call(
        server,
        "sendMessage",
        data={
            "chat_id": str(user.id),
            "text": "x",
            "disable_notification": "true",
            "reply_markup": '{"inline_keyboard": [[{"text": "a", "callback_data": "a"}]]}',
        },
    )
    assert status == 200 and body["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "a"
    status, body = await call(server, "sendMessage", data={"chat_id": "abc", "text": "x"})
    assert body["description"] == "Bad Request: chat not found"
    assert emu.validation_errors == []


async def test_caption_and_media_group_limits(bot: Bot, emu: Emulator, user):
    photo = BufferedInputFile(b"jpeg", "a.jpg")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_photo(user.id, photo, caption="c" * 1025)
    with pytest.raises(TelegramBadRequest, match="media group must include 2-10 items"):
        await bot.send_media_group(user.id, [InputMediaPhoto(media=photo)])
    eleven = [InputMediaPhoto(media=BufferedInputFile(b"j", f"{i}.jpg")) for i in range(11)]
    with pytest.raises(TelegramBadRequest, match="media group must include 2-10 items"):
        await bot.send_media_group(user.id, eleven)
    assert len(emu.validation_errors) == 3


async def test_answer_callback_text_limit(bot: Bot, emu: Emulator, user):
    await bot.send_message(
        user.id,
        "x",
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="a", callback_data="a")]]
        ),
    )
    click = await emu.user_clicks(user, emu.last_message(user), "a")
    with pytest.raises(TelegramBadRequest, match="MESSAGE_TOO_LONG"):
        await bot.answer_callback_query(click["callback_query"]["id"], text="t" * 201)
    assert await bot.answer_callback_query(click["callback_query"]["id"], text="t" * 200)
    assert len(emu.validation_errors) == 1


async def test_invalid_json_body(server: EmulatorServer):
    status, body = await call(
        server, "sendMessage", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert status == 400 and not body["ok"]
