"""Reply keyboards, agents' media in topics, unsupported methods, spec loading, the CLI."""

import aiohttp
from aiogram import Bot
from aiogram.types import (
    BufferedInputFile,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.emulator import Emulator, EmulatorServer
from bot.emulator.__main__ import parse_args
from bot.emulator.core import cached_spec
from tests.emulator.conftest import TOKEN


async def test_reply_keyboard_is_remembered_per_chat(bot: Bot, emu: Emulator):
    user = emu.create_user()
    await emu.user_sends_text(user, "/start")
    share = KeyboardButton(text="Share phone", request_contact=True)
    await bot.send_message(
        user.id,
        "Phone?",
        reply_markup=ReplyKeyboardMarkup(keyboard=[[share]], resize_keyboard=True),
    )
    assert emu.chats[user.id].reply_keyboard["keyboard"][0][0]["request_contact"] is True
    assert emu.last_message(user).reply_markup is None
    assert emu.last_message(user).reply_keyboard is not None
    await emu.user_sends_contact(user, "+8613800000000")
    await bot.send_message(user.id, "Thanks", reply_markup=ReplyKeyboardRemove())
    assert emu.chats[user.id].reply_keyboard is None
    assert emu.validation_errors == []


async def test_agent_photo_in_a_topic_and_bot_photo_back(bot: Bot, emu: Emulator):
    agent = emu.create_user(first_name="Agent")
    group = emu.create_group("Desk", members=[agent])
    topic = await bot.create_forum_topic(group.id, "Case 1")
    await emu.user_sends_photo(
        agent, b"label", "return label", chat=group, thread_id=topic.message_thread_id
    )
    [update] = await bot.get_updates()
    assert update.message.message_thread_id == topic.message_thread_id
    assert update.message.chat.id == group.id
    sent = await bot.send_photo(
        group.id, update.message.photo[-1].file_id, message_thread_id=topic.message_thread_id
    )
    assert sent.is_topic_message
    await bot.delete_messages(group.id, [sent.message_id])
    assert emu.last_message(group).deleted


async def test_unsupported_methods(server: EmulatorServer, emu: Emulator):
    user = emu.create_user()
    await emu.user_sends_text(user, "hi")
    async with aiohttp.ClientSession() as http:
        url = f"{server.base_url}/bot{TOKEN}"
        async with http.post(f"{url}/setChatDescription", json={"chat_id": user.id}) as response:
            assert (await response.json())["result"] is True
        async with http.post(f"{url}/getStarTransactions", json={}) as response:
            assert response.status == 501
        async with http.get(f"{url}/getMe?unused=1") as response:
            assert response.status == 400
    assert emu.unsupported_calls == ["setChatDescription", "getStarTransactions"]


def test_spec_is_loaded_once_with_every_method():
    spec = cached_spec()
    assert spec is cached_spec()
    assert spec.version == "Bot API 10.1"
    assert len(spec.methods) == 180
    assert spec.method("SENDMESSAGE").name == "sendMessage"
    assert spec.unions["BotCommandScope"].by_value["chat"] == ("BotCommandScopeChat",)


def test_cli_arguments():
    args = parse_args(["--port", "8081", "--token", TOKEN, "--enforce-rate-limits"])
    assert (args.port, args.token, args.enforce_rate_limits) == (8081, TOKEN, True)


async def test_calls_log_params_and_timestamps(bot: Bot, emu: Emulator):
    emu.clock = lambda: 1234.0
    user = emu.create_user()
    await emu.user_sends_text(user, "hi")
    await bot.send_document(user.id, BufferedInputFile(b"abc", "a.txt"), caption="doc")
    [call] = emu.calls_to("sendDocument")
    assert call.at == 1234.0 and call.ok
    assert call.params["caption"] == "doc"
    assert call.params["document"].startswith("attach://")
