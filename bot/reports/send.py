"""An outbox "chart" payload as Bot API calls: the chart drawn when the row leaves and
uploaded with sendPhoto (multipart), the key figures as its caption; a caption too long for
Telegram's 1,024 characters follows the photo as messages instead.

Drawing takes a few hundred milliseconds of CPU: it runs in a thread, so the outbox keeps
sending other chats' messages meanwhile. A retry draws the same picture again.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiogram import Bot
from aiogram.types import BufferedInputFile

from bot.render import HTML, MAX_CAPTION, MAX_TEXT, Step, _send_text, _units, _visible, split_html
from dialogs.reports.chart import ChartSpec

FILENAME = "report.png"


def plan_chart(p: dict[str, Any]) -> list[Step]:
    chat_id: int = p["chat_id"]
    thread_id: int | None = p.get("message_thread_id")
    caption: str | None = p.get("caption") or None
    overflow: list[str] = []
    if caption is not None and _units(_visible(caption)) > MAX_CAPTION:
        overflow, caption = split_html(caption, MAX_TEXT), None
    spec = ChartSpec.from_dict(p["chart"])

    async def call(bot: Bot, _previous: int | None) -> int:
        from bot.reports.chart import render  # matplotlib loads with the first chart

        png = await asyncio.to_thread(render, spec)
        message = await bot.send_photo(chat_id, BufferedInputFile(png, FILENAME),
                                       caption=caption, parse_mode=HTML,
                                       message_thread_id=thread_id)  # fmt: skip
        return int(message.message_id)

    return [Step("sendPhoto", call), *(_send_text(chat_id, t, None, thread_id) for t in overflow)]
