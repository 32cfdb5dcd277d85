"""Durable intake: an update is stored in the inbox before Telegram is told we have it.

aiogram's own polling advances the offset before handlers finish, and its webhook handler
answers 200 before the work is done; either way a crash loses the update. Here polling asks for
the next offset only after the batch is committed, and the webhook answers 200 only after
the commit, so Telegram re-sends anything we did not store. A redelivery is dropped by the
inbox (same update_id and identity, see `bot.update_shape`); a new update that reuses an old
update_id is kept. Anything that is not a well-formed update is refused and logged, and never
stops the poller or the webhook server.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramConflictError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot import json_calls
from bot.claims import Claims
from bot.errors import StartupError
from bot.translate import Incoming, route
from bot.update_shape import MAX_ID as MAX_UPDATE_ID
from bot.update_shape import Malformed, check, identity
from dialogs.clock import Clock
from storage.db import Database, outlasting_outages
from storage.repos import InboxRepo
from storage.repos.cases import chat_of_topic
from storage.repos.lanes import LaneRepo, PendingRow

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
Submit = Callable[[Incoming], None]
# Seconds: an id missing below ones stored longer ago says nothing about one on its way. Wide
# enough for quiet hours, when the look's span of ids (`storage.repos.lanes.SPAN`) can take
# longer than a few seconds.
SETTLE_WINDOW = 60.0


# The webhook server's own request body limit (aiohttp's `client_max_size`), set here rather
# than left to the library's default: Telegram's updates are a few KB (a message's text is at
# most 4096 characters, files come as ids), so anything far larger is not one and gets a 413.
WEBHOOK_MAX_BODY = 256 * 1024
MAX_BACKOFF = 30.0
STORE_PATIENCE = 10.0  # seconds a webhook request waits for the database to come back
REVOKED = (
    "Telegram refused BOT_TOKEN (401 Unauthorized): the token was revoked or is wrong; "
    "get the current one from @BotFather and restart"
)
CONFLICT = (
    "getUpdates answered 409 Conflict: another instance is polling with this BOT_TOKEN "
    "(or a webhook was set for it); run one polling instance per token, "
    "or several workers with run --webhook"
)


class Inbox:
    """Stores updates; hands the new ones to the processor in the order they came.

    Each row is stored with its lane (a case topic's update: its customer's, looked up here).
    With `claims` (several workers) a row is handed over only if this worker won its lane;
    otherwise the lane's holder takes it up (`bot/claims.py`)."""

    def __init__(self, db: Database, clock: Clock, submit: Submit, *,
                 claims: Claims | None = None, check_order: bool = False) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.submit = submit
        self.claims = claims
        # Webhook mode: deliveries run in parallel, so note the updates that came before the
        # one below them (the processor lets those wait a moment).
        self.check_order = check_order
        # The highest update_id this process stored: a fresh id above it cannot be a reuse,
        # so the look for reused ids (one statement) is only made when ids go back.
        self._highest: int | None = None

    async def store(self, updates: list[dict[str, Any]]) -> int:
        """Store well-formed updates (a batch, sorted by update_id as Telegram sends them);
        how many were new. Raises on a database error: nothing of the batch was stored."""
        if not updates:
            return 0
        now = self.clock.now()
        ordered = sorted(updates, key=lambda u: u["update_id"])
        routed = [route(0, u) for u in ordered]  # the inbox id is known once stored
        rows = [(i.payload["update_id"], identity(i.payload), i.chat_id, i.payload) for i in routed]
        async with self.db.transaction() as session:
            inbox = InboxRepo(session)
            routed = [replace(i, lane_id=await _lane(session, i)) for i in routed]
            fresh = await inbox.record_many(rows, now, [i.lane for i in routed])
            ids = [update_id for update_id, _ in fresh]
            look = self._highest is None or any(i <= self._highest for i in ids)
            reused = await inbox.reused(ids) if look else set()
            won: set[int] | None = None
            waiting: list[PendingRow] = []
            if self.claims is not None and fresh:
                mine = {i.lane for (u, k, _, _), i in zip(rows, routed, strict=True)
                        if (u, k) in fresh}  # fmt: skip
                won = await self.claims.claim(session, mine)
                # Rows of these lanes other workers stored while this one held them: they
                # join here, in the same transaction, so they are worked in update_id order.
                waiting = await LaneRepo(session).pending_of(won, exclude=set(fresh.values()))
            unsettled = await self._unsettled(session, ids, now) if self.check_order else set()
        if ids:
            self._highest = max(self._highest or 0, *ids)
        for update_id in sorted(reused):
            log.warning("update_id %s was seen before with other content: a new update, kept",
                        update_id)  # fmt: skip
        # Handed over only after the commit: nothing is worked on that could still be lost.
        for lane, row in waiting:
            # Another worker may still be storing one just below it: checked like a new one.
            self.submit(replace(route(row.id, row.payload), lane_id=lane,
                                unsettled=self.check_order))  # fmt: skip
        for (update_id, key, _, _), incoming in zip(rows, routed, strict=True):
            inbox_id = fresh.get((update_id, key))
            if inbox_id is not None and (won is None or incoming.lane in won):
                self.submit(replace(incoming, inbox_id=inbox_id,
                                    unsettled=update_id in unsettled))  # fmt: skip
        return len(fresh)

    async def _unsettled(self, session: AsyncSession, ids: list[int], now: datetime) -> set[int]:
        """Which of these new updates came while one just below it is still on its way."""
        since = now - timedelta(seconds=SETTLE_WINDOW)
        return await LaneRepo(session).missing_below(ids, since)


async def _lane(session: AsyncSession, incoming: Incoming) -> int:
    """Whose work an update is: a case topic's (or case card's) update is its customer's."""
    if incoming.private or (incoming.thread_id is None and incoming.card_ref is None):
        return incoming.lane
    conn = await session.connection()
    found = await chat_of_topic(conn, incoming.lane, incoming.thread_id, incoming.card_ref)
    return found if found is not None else incoming.lane


def well_formed(updates: list[Any], seen: set[str] | None = None) -> list[dict[str, Any]]:
    """The updates that can be stored; each other one logged (once, if `seen` remembers)."""
    good: list[dict[str, Any]] = []
    for update in updates:
        try:
            good.append(check(update))
        except Malformed as problem:
            key = f"{_raw_id(update)}:{problem}"
            if seen is None or key not in seen:
                log.warning("ignored a malformed update (update_id %s): %s",
                            _raw_id(update), problem)  # fmt: skip
                if seen is not None and len(seen) < 10_000:
                    seen.add(key)
    return good


class Polling:
    """Long polling that only ends when told to, or when it cannot go on (a revoked token).

    The offset confirms only a batch that was stored: it is sent once, with the call right
    after that batch, and never kept longer. Telegram may start update ids anew after a week
    without updates; a remembered offset would then confirm (drop) updates nobody has seen.
    """

    def __init__(self, bot: Bot, inbox: Inbox, *, timeout: int = 25) -> None:
        self.bot = bot
        self.inbox = inbox
        self.timeout = timeout
        self._stopping = asyncio.Event()
        self._malformed: set[str] = set()

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        """Poll until `stop()`; StartupError when Telegram refuses the token."""
        offset: int | None = None
        failures = 0
        while not self._stopping.is_set():
            try:
                updates = await self._get(offset)
            except _Stopped:
                break
            except TelegramUnauthorizedError:
                raise StartupError(REVOKED, exit_code=1) from None
            except TelegramRetryAfter as exc:
                await self._sleep(exc.retry_after)
                continue
            except TelegramConflictError:
                failures += 1
                log.error("%s; retrying in %.0f s", CONFLICT, _backoff(failures))
                await self._sleep(_backoff(failures))
                continue
            except (TelegramNetworkError, TelegramServerError, OSError) as exc:
                failures += 1
                log.warning("getUpdates failed (%s); retrying in %.0f s", exc, _backoff(failures))
                await self._sleep(_backoff(failures))
                continue
            except Exception as exc:  # a 400, an answer that is not JSON: back off, go on
                failures += 1
                log.error("getUpdates failed: %s: %s; retrying in %.0f s",
                          type(exc).__name__, exc, _backoff(failures))  # fmt: skip
                await self._sleep(_backoff(failures))
                continue
            failures = 0
            good = well_formed(updates if isinstance(updates, list) else [], self._malformed)
            if good:
                try:
                    await self.inbox.store(good)
                except Exception:
                    # Not stored, so not confirmed: the same batch comes again after the pause.
                    failures += 1
                    log.exception("storing updates failed; retrying in %.0f s", _backoff(failures))
                    await self._sleep(_backoff(failures))
                    offset = None
                    continue
            offset = _next_offset(updates)
            if updates and not good:
                # Only updates that cannot be stored came: do not ask again in a tight loop.
                await self._sleep(1.0)

    async def _get(self, offset: int | None) -> list[Any]:
        params = {"offset": offset, "timeout": self.timeout, "allowed_updates": ALLOWED_UPDATES}
        request = asyncio.ensure_future(
            json_calls.call(self.bot, "getUpdates", params, timeout=self.timeout + 10)
        )
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            done, _ = await asyncio.wait({request, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not request.done():
                # Stopping mid long-poll: nothing received is lost, Telegram keeps it unconfirmed.
                request.cancel()
        if request not in done:
            raise _Stopped
        return request.result()  # type: ignore[no-any-return]

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when told to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


class _Stopped(Exception):
    pass


def _backoff(failures: int) -> float:
    return min(2.0 ** (failures - 1), MAX_BACKOFF)


def _next_offset(updates: list[Any]) -> int | None:
    """The offset that confirms this answer's updates; None when there is nothing to confirm."""
    ids = [
        u["update_id"]
        for u in updates
        if isinstance(u, dict)
        and isinstance(u.get("update_id"), int)
        and 0 <= u["update_id"] < MAX_UPDATE_ID
    ]
    return max(ids) + 1 if ids else None


def webhook_app(inbox: Inbox, secret: str, path: str) -> web.Application:
    """An aiohttp app answering Telegram's webhook POSTs (200 only once stored); /healthz and
    /metrics are added by the runtime (bot/metrics.py)."""

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given.encode(), secret.encode()):
            return web.Response(status=401, text="unauthorized")
        try:
            payload = await request.json()
        except ValueError:
            log.warning("webhook: ignored a body that is not JSON")
            return web.Response(status=400, text="bad json")
        try:
            update = check(payload)
        except Malformed as problem:
            log.warning("webhook: ignored a malformed update (update_id %s): %s",
                        _raw_id(payload), problem)  # fmt: skip
            return web.Response(status=400, text=f"not an update: {problem}")
        await _store_patiently(inbox, update)  # an exception here is a 500: sent again
        return web.Response(text="ok")

    # The body limit is ours, not aiohttp's default (1 MiB): a larger body is refused with 413.
    app = web.Application(client_max_size=WEBHOOK_MAX_BODY)
    app.router.add_post(path, receive)
    return app


async def _store_patiently(inbox: Inbox, update: dict[str, Any]) -> None:
    """Store one update, waiting out a database restart for a few seconds: Telegram would
    send it again only after a pause, and many updates sent again at once come in any order."""
    await outlasting_outages(lambda: inbox.store([update]), STORE_PATIENCE, pause=0.2)


def _raw_id(update: object) -> object:
    return update.get("update_id") if isinstance(update, dict) else None
