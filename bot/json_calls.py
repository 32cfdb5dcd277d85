"""The outbox's everyday calls as plain JSON, through aiogram's own session and error mapping.

Every message, edit and callback answer is already plain data in the outbox payload. aiogram
would turn it into pydantic models, dump them back into a form body field by field, and parse
Telegram's answer into a `Message` we only take the id of: together more than a tenth of the
bot's CPU under load. Here the payload's dict goes out as the JSON body Telegram accepts, over
aiogram's aiohttp session; the answer goes through aiogram's `check_response`, so flood waits,
bad requests, blocked chats and server errors raise exactly the exceptions they always do.
getUpdates comes back the same way, as Telegram's JSON, which the inbox stores as it came.
Everything else (photos, albums, topics, files) keeps aiogram's typed methods.
"""

from __future__ import annotations

from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import (
    AnswerCallbackQuery,
    CloseForumTopic,
    CopyMessage,
    EditMessageReplyMarkup,
    EditMessageText,
    GetUpdates,
    ReopenForumTopic,
    SendMessage,
)
from aiogram.methods.base import TelegramMethod

JSON = {"Content-Type": "application/json"}


class _SendMessage(SendMessage):
    __returning__ = dict[str, Any]  # type: ignore[assignment]


class _EditMessageText(EditMessageText):
    __returning__ = dict[str, Any] | bool  # type: ignore[assignment]


class _EditMessageReplyMarkup(EditMessageReplyMarkup):
    __returning__ = dict[str, Any] | bool  # type: ignore[assignment]


class _AnswerCallbackQuery(AnswerCallbackQuery):
    __returning__ = bool


class _CopyMessage(CopyMessage):
    __returning__ = dict[str, Any]  # type: ignore[assignment]


class _CloseForumTopic(CloseForumTopic):
    __returning__ = bool


class _ReopenForumTopic(ReopenForumTopic):
    __returning__ = bool


class _GetUpdates(GetUpdates):
    # Telegram's own JSON: stored as it came; parsing every update into aiogram's models only
    # to dump it back into the inbox would cost more than handling it.
    __returning__ = list[dict[str, Any]]  # type: ignore[assignment]


# What `check_response` parses the answer as, and what errors name as the method.
METHODS: dict[str, TelegramMethod[Any]] = {
    cls.__api_method__: cls.model_construct()
    for cls in (
        _SendMessage, _EditMessageText, _EditMessageReplyMarkup, _AnswerCallbackQuery, _GetUpdates,
        _CopyMessage, _CloseForumTopic, _ReopenForumTopic,
    )
}  # fmt: skip


async def call(
    bot: Bot,
    method: str,
    params: dict[str, Any],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - the HTTP request's, as aiogram's own
) -> Any:
    """Telegram's `result` for `method` (one of METHODS) with these JSON parameters;
    `timeout`: seconds for the whole request (default: the session's)."""
    marker = METHODS[method]
    session = bot.session
    http = await session.create_session()
    url = session.api.api_url(token=bot.token, method=method)
    body = session.json_dumps({k: v for k, v in params.items() if v is not None})
    try:
        wait = session.timeout if timeout is None else timeout
        async with http.post(url, data=body, headers=JSON, timeout=wait) as response:
            content = await response.text()
    except TimeoutError as error:
        raise TelegramNetworkError(method=marker, message="Request timeout error") from error
    except aiohttp.ClientError as error:
        message = f"{type(error).__name__}: {error}"
        raise TelegramNetworkError(method=marker, message=message) from error
    checked = session.check_response(
        bot=bot, method=marker, status_code=response.status, content=content
    )
    return checked.result
