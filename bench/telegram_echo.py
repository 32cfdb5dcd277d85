"""The reference bot for `bench.telegram_bench`: a minimal aiogram echo bot, polling.

    python -m bench.telegram_echo BASE_URL TOKEN

It answers every text message with the same text and an inline button, and answers a press of
that button by answering the callback and editing the message. Nothing else: the benchmark
compares the after-sales bot with the cheapest thing aiogram can do per update.
"""

from __future__ import annotations

import asyncio
import sys

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.cli.run import event_loop_factory

router = Router()
AGAIN = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="✓", callback_data="ok")]])


@router.message(F.text)
async def echo(message: Message) -> None:
    await message.answer(message.text or "", reply_markup=AGAIN)


@router.callback_query(F.data == "ok")
async def pressed(callback: CallbackQuery) -> None:
    await callback.answer()
    if isinstance(callback.message, Message):
        # A different text, or Telegram would say "message is not modified".
        await callback.message.edit_text(f"{callback.message.text} ✓")


async def main(base_url: str, token: str) -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(base_url))
    bot = Bot(token, session=session)
    dp = Dispatcher()
    dp.include_router(router)
    # handle_signals: SIGTERM from the benchmark ends polling cleanly.
    await dp.start_polling(bot, polling_timeout=25)


if __name__ == "__main__":
    # The same event loop as `aftersales run` (uvloop where installed): the comparison is
    # between the bots, not between event loops.
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(main(sys.argv[1], sys.argv[2]))
