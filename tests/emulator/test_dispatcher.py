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
