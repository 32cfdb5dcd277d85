"""A real aiogram Dispatcher (long polling) driven by simulated customers."""

import asyncio

from aiogram import Bot, Dispatcher, F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.emulator import Emulator


def echo_router() -> Router:
    router = Router()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        button = InlineKeyboardButton(text="again", callback_data="again")
        await message.answer(
            message.text, reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]])
        )

    @router.callback_query(F.data == "again")
    async def again(query: CallbackQuery) -> None:
        await query.answer("ok")
        await query.message.edit_text(f"{query.message.text} (again)")

    return router


async def test_polling_dispatcher_serves_many_customers(bot: Bot, emu: Emulator):
    dp = Dispatcher()
    dp.include_router(echo_router())
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        users = [emu.create_user(first_name=f"C{i}") for i in range(20)]
        await asyncio.gather(*(emu.user_sends_text(u, f"hello {u.first_name}") for u in users))
        for user in users:
            [message] = await emu.wait_for_messages(user, 1, timeout=5)
            assert message.text == f"hello {user.first_name}"
        clicks = [await emu.user_clicks(u, emu.last_message(u), "again") for u in users]
        await emu.wait_until(lambda: not emu.unanswered_callbacks(), timeout=5)
        await emu.wait_until(
            lambda: all(emu.last_message(u).text.endswith("(again)") for u in users), timeout=5
        )
        assert len(clicks) == 20
    finally:
        await dp.stop_polling()
        await polling
    assert emu.validation_errors == [] and emu.api_errors == []


async def test_webhook_dispatcher_with_secret(bot: Bot, emu: Emulator):
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler
    from aiohttp import web

    dp = Dispatcher()
    dp.include_router(echo_router())
    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token="hook-secret").register(app, path="/tg")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        await bot.set_webhook(f"http://127.0.0.1:{port}/tg", secret_token="hook-secret")
        user = emu.create_user()
        await emu.user_sends_text(user, "via webhook")
        [message] = await emu.wait_for_messages(user, 1, timeout=5)
        assert message.text == "via webhook"
        await bot.set_webhook(f"http://127.0.0.1:{port}/tg", secret_token="wrong-secret")
        await emu.user_sends_text(user, "refused")
        await emu.wait_until(lambda: emu.webhook.stats.last_error_message is not None, timeout=5)
        assert "401" in emu.webhook.stats.last_error_message
        await bot.delete_webhook()
    finally:
        await runner.cleanup()
