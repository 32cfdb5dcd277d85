import asyncio

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramNotFound

from bot.emulator import Emulator, EmulatorServer
from tests.emulator.conftest import TOKEN


async def test_get_me(bot: Bot):
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (123456789, "aftersales_demo_bot", True)


async def test_bot_id_comes_from_the_token(server: EmulatorServer):
    async with aiohttp.ClientSession() as http:
        token = "42:" + "x" * 35
        async with http.get(f"{server.base_url}/bot{token}/getMe") as response:
            body = await response.json()
    assert body["ok"] and body["result"]["id"] == 42


async def test_unknown_method_is_404(bot: Bot, emu: Emulator, server: EmulatorServer):
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.base_url}/bot{TOKEN}/sendTelepathy") as response,
    ):
        assert response.status == 404
        assert await response.json() == {
            "ok": False,
            "error_code": 404,
            "description": "Not Found",
        }


async def test_malformed_token_is_401(server: EmulatorServer):
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.base_url}/botnot-a-token/getMe") as response,
    ):
        assert response.status == 401


async def test_method_names_are_case_insensitive_and_json_bodies_work(server: EmulatorServer):
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.base_url}/bot{TOKEN}/GETME", json={}) as response,
    ):
        assert (await response.json())["ok"] is True


async def test_offset_confirms_and_limit_caps(bot: Bot, emu: Emulator):
    user = emu.create_user()
    sent = [await emu.user_sends_text(user, f"m{i}") for i in range(3)]
    ids = [u["update_id"] for u in sent]
    assert ids == sorted(ids) and len(set(ids)) == 3
    first = await bot.get_updates(limit=2)
    assert [u.update_id for u in first] == ids[:2]
    again = await bot.get_updates(offset=ids[1])
    assert [u.update_id for u in again] == ids[1:]
    assert await bot.get_updates(offset=ids[2] + 1) == []


async def test_long_polling_wakes_when_an_update_arrives(bot: Bot, emu: Emulator):
    user = emu.create_user()
    poll = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.1)
    assert not poll.done()
    await emu.user_sends_text(user, "hello")
    updates = await asyncio.wait_for(poll, 2)
    assert updates[0].message.text == "hello"


async def test_long_polling_times_out_empty(bot: Bot):
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await bot.get_updates(timeout=1) == []
    assert loop.time() - started >= 0.9


async def test_allowed_updates_filters(bot: Bot, emu: Emulator):
    user = emu.create_user()
    await emu.user_sends_text(user, "text")
    updates = await bot.get_updates(allowed_updates=["callback_query"])
    assert updates == []


async def test_redeliver_hands_out_a_duplicate(bot: Bot, emu: Emulator):
    user = emu.create_user()
    update = await emu.user_sends_text(user, "once")
    [got] = await bot.get_updates()
    emu.redeliver(update)
    [dup] = await bot.get_updates(offset=got.update_id + 1)
    assert dup.update_id == got.update_id


async def test_a_newer_poll_terminates_the_older_with_409(bot: Bot, server: EmulatorServer):
    async with aiohttp.ClientSession() as http:
        url = f"{server.base_url}/bot{TOKEN}/getUpdates"
        old = asyncio.create_task(http.post(url, json={"timeout": 5}))
        await asyncio.sleep(0.1)
        await bot.get_updates(timeout=0)
        response = await asyncio.wait_for(old, 2)
        assert response.status == 409
        response.release()


async def test_not_found_errors_map_to_aiogram(bot: Bot):
    with pytest.raises(TelegramNotFound):
        await bot.session.make_request(bot, _FakeMethod())  # type: ignore[arg-type]


class _FakeMethod:
    __api_method__ = "noSuchMethod"
    __returning__ = bool

    def model_dump(self, warnings: bool = False) -> dict:
        return {}


async def test_update_ids_can_continue_after_a_restart(emu: Emulator):
    user = emu.create_user()
    emu.continue_update_ids(200_000_000)
    assert (await emu.user_sends_text(user, "a"))["update_id"] == 200_000_001
    emu.continue_update_ids(10)  # never goes back
    assert (await emu.user_sends_text(user, "b"))["update_id"] == 200_000_002
