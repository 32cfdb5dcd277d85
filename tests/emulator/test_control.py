"""The /_emulator/ JSON control API of a standalone emulator."""

import aiohttp
from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.emulator import EmulatorServer


async def test_drive_a_customer_over_http(server: EmulatorServer, bot: Bot):
    base = f"{server.base_url}/_emulator"
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{base}/users", json={"id": 42, "first_name": "Ann"}) as response:
            assert (await response.json())["id"] == 42
        async with http.post(f"{base}/send_text", json={"user_id": 42, "text": "/start"}) as r:
            update = await r.json()
        [got] = await bot.get_updates()
        assert got.update_id == update["update_id"]
        button = InlineKeyboardButton(text="Go", callback_data="go")
        sent = await bot.send_message(
            42, "Hi", reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]])
        )
        async with http.get(f"{base}/messages/42") as response:
            [view] = await response.json()
        assert view["text"] == "Hi" and view["callback_data"] == ["go"]
        click = {"user_id": 42, "message_id": sent.message_id, "callback_data": "go"}
        async with http.post(f"{base}/click", json=click) as response:
            assert "callback_query" in await response.json()
        async with http.post(f"{base}/click", json={**click, "callback_data": "nope"}) as r:
            assert r.status == 400
        async with http.get(f"{base}/state") as response:
            state = await response.json()
        assert state["stats"]["unanswered_callbacks"] == 1
