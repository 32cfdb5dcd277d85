"""Keeps aiogram's parsed-answer models built.

aiogram parses every Bot API answer as `Response[T]`, a pydantic generic it names again on every
call. pydantic keeps parametrised generics only weakly, so after each garbage collection the next
call rebuilds one, schema and all (about 5 ms for `Response[Message]`): under load that was 8 %
of the bot's CPU. Holding a reference to each one the bot uses keeps them built for good.
"""

from __future__ import annotations

from typing import Any

from aiogram.methods import (
    CreateForumTopic,
    DeleteWebhook,
    GetFile,
    GetMe,
    SendDocument,
    SendMediaGroup,
    SendPhoto,
    SendVideo,
    SetMyCommands,
    SetWebhook,
)
from aiogram.methods.base import Response

from bot.json_calls import METHODS

# aiogram's typed methods the bot calls; messages, edits, callback answers and getUpdates go
# through bot/json_calls.py, whose own method classes are added below.
USED = (
    CreateForumTopic, DeleteWebhook, GetFile, GetMe, SendDocument, SendMediaGroup, SendPhoto,
    SendVideo, SetMyCommands, SetWebhook,
)  # fmt: skip
KEPT: dict[Any, Any] = {
    method.__returning__: Response[method.__returning__]  # type: ignore[name-defined]
    for method in (*USED, *(type(m) for m in METHODS.values()))
}
