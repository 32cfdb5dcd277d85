"""Durable intake: an update is stored in the inbox before Telegram is told we have it.

aiogram's own polling advances the offset before handlers finish, and its webhook handler
answers 200 before the work is done; either way a crash loses the update. Here polling asks for
the next offset only after the batch is committed, and the webhook answers 200 only after
the commit, so Telegram re-sends anything we did not store. Duplicates are dropped by the
inbox's primary key (update_id).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiohttp import web

from bot import json_calls
from bot.translate import Incoming, route
from dialogs.clock import Clock
from storage.db import Database
from storage.repos import InboxRepo

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
Submit = Callable[[Incoming], None]


class Inbox:
    """Stores updates; hands the new ones to the processor in update_id order."""

    def __init__(self, db: Database, clock: Clock, submit: Submit) -> None:
        self.db = db
        self.clock = clock
        self.submit = submit

    async def store(self, updates: list[dict[str, Any]]) -> int:
        if not updates:
            return 0
        now = self.clock.now()
        ordered = sorted(updates, key=lambda u: u["update_id"])
        incoming = [route(int(u["update_id"]), u) for u in ordered]
        rows = [(i.update_id, i.chat_id, i.payload) for i in incoming]
        async with self.db.transaction() as session:
            fresh = await InboxRepo(session).record_many(rows, now)
        # Handed over only after the commit: nothing is worked on that could still be lost.
        for one in incoming:
            if one.update_id in fresh:
                self.submit(one)
        return len(fresh)


class Polling:
    def __init__(self, bot: Bot, inbox: Inbox, *, timeout: int = 25) -> None:
        self.bot = bot
        self.inbox = inbox
        self.timeout = timeout
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        offset: int | None = None
        backoff = 1.0
        while not self._stopping.is_set():
            params = {"offset": offset, "timeout": self.timeout, "allowed_updates": ALLOWED_UPDATES}
            request = asyncio.ensure_future(
                json_calls.call(self.bot, "getUpdates", params, timeout=self.timeout + 10)
            )
            stopping = asyncio.ensure_future(self._stopping.wait())
            done, _ = await asyncio.wait({request, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if request not in done:
                # Stopping mid long-poll: nothing received is lost, Telegram keeps it unconfirmed.
                request.cancel()
                break
            stopping.cancel()
            try:
                updates = request.result()
            except TelegramRetryAfter as exc:
                await asyncio.sleep(exc.retry_after)
                continue
            except (TelegramNetworkError, TelegramServerError, OSError) as exc:
                log.warning("getUpdates failed (%s); retrying in %.0fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 30.0)
                continue
            backoff = 1.0
            if not updates:
                continue
            await self.inbox.store(updates)
            # Only now is the batch confirmed: the next getUpdates carries this offset.
            offset = max(int(u["update_id"]) for u in updates) + 1


def webhook_app(inbox: Inbox, secret: str | None, path: str) -> web.Application:
    """An aiohttp app answering Telegram's webhook POSTs (200 only once stored)."""

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if secret and not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=401, text="unauthorized")
        try:
            payload = await request.json()
        except ValueError:
            return web.Response(status=400, text="bad json")
        if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
            return web.Response(status=400, text="not an update")
        await inbox.store([payload])  # an exception here is a 500: Telegram will re-send
        return web.Response(text="ok")

    async def health(_request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post(path, receive)
    app.router.add_get("/healthz", health)
    return app
