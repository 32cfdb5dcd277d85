"""Works the inbox: each chat's updates one at a time and in order, chats in parallel.

Updates arrive here only after they were stored (see `bot/intake.py`). The parts of an album
arrive as separate updates; they are gathered for a moment and handled as one event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiogram import Bot

from bot.files import EvidenceStore
from bot.render import answer_callback
from bot.translate import Incoming, merge_album, route, to_event
from dialogs.clock import Clock
from dialogs.events import CallbackAnswer, Discard, Event, Reply
from dialogs.service import Batcher, ConversationService, Job
from dialogs.texts import Texts
from storage.db import Database
from storage.repos import ConversationRepo, InboxRepo, OutboxRepo

log = logging.getLogger(__name__)
ALBUM_WAIT = 0.7  # seconds to wait for the next part of an album


class Processor:
    def __init__(
        self,
        service: ConversationService,
        db: Database,
        clock: Clock,
        texts: Texts,
        *,
        evidence: EvidenceStore | None = None,
        bot: Bot | None = None,
        album_wait: float = ALBUM_WAIT,
        on_outbox: Callable[[], None] | None = None,
    ) -> None:
        self.service = service
        self.batcher = Batcher(service)
        self.bot = bot
        self._answering: set[asyncio.Task[None]] = set()
        self.db = db
        self.clock = clock
        self.texts = texts
        self.evidence = evidence
        self.album_wait = album_wait
        self.on_outbox = on_outbox
        self._queues: dict[int, asyncio.Queue[Incoming]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, incoming: Incoming) -> None:
        """Queue a stored update (`route`d); call in the order the updates were stored."""
        key = incoming.chat_id if incoming.chat_id is not None else 0
        queue = self._queues.setdefault(key, asyncio.Queue())
        queue.put_nowait(incoming)
        if key not in self._workers:
            self._idle.clear()
            self._workers[key] = asyncio.create_task(self._work(key, queue))

    async def recover(self) -> int:
        """Queue what a previous run stored but did not finish (a crash loses nothing)."""
        async with self.db.read() as session:
            rows = await InboxRepo(session).pending(limit=100_000)
            pending = [route(row.id, row.payload) for row in rows]
        for incoming in pending:
            self.submit(incoming)
        return len(pending)

    async def drain(self, seconds: float | None = None) -> bool:
        """Wait until every queued update was handled; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True

    @property
    def in_hand(self) -> int:
        return sum(q.qsize() for q in self._queues.values()) + len(self._workers)

    async def _work(self, key: int, queue: asyncio.Queue[Incoming]) -> None:
        carry: Incoming | None = None
        try:
            while carry is not None or not queue.empty():
                current = carry or queue.get_nowait()
                carry = None
                if current.media_group_id and current.private:
                    parts, carry = await self._album(current, queue)
                    await self._handle(parts)
                else:
                    await self._handle([current])
        finally:
            del self._workers[key]
            if queue.empty():
                self._queues.pop(key, None)
            if not self._workers:
                self._idle.set()

    async def _album(
        self, first: Incoming, queue: asyncio.Queue[Incoming]
    ) -> tuple[list[Incoming], Incoming | None]:
        parts = [first]
        while True:
            try:
                nxt = await asyncio.wait_for(queue.get(), self.album_wait)
            except TimeoutError:
                return parts, None
            if nxt.media_group_id != first.media_group_id:
                return parts, nxt
            parts.append(nxt)

    async def _handle(self, parts: list[Incoming]) -> None:
        first = parts[0]
        fetched: Event | None = None
        try:
            events = [e for p in parts if (e := to_event(p.inbox_id, p.payload)) is not None]
            if not events:
                await self._not_an_event(first)
                return
            event = merge_album(events) if len(events) > 1 else events[0]
            if self.evidence is not None and event.kind == "media":
                slots = await self.service.media_slots(event.chat_id)
                event = fetched = await self.evidence.fetch(event, slots)
            also = [p.inbox_id for p in parts[1:]]
            outgoing = await self.batcher.submit(Job(event, also_done=also, stored=True))
            self._answer([o for o in outgoing if isinstance(o, CallbackAnswer)])
            if self.evidence is not None:
                for discard in (o for o in outgoing if isinstance(o, Discard)):
                    self.evidence.discard(discard.paths)
        except Exception as exc:
            if fetched is not None and self.evidence is not None:  # nothing of the turn was kept
                self.evidence.discard(m.local_path for m in fetched.media)
            log.exception("update %s failed", first.payload.get("update_id"))
            await self._failed(parts, exc)

    def _answer(self, answers: list[CallbackAnswer]) -> None:
        """Stop the pressed buttons' spinners, after the commit and off the chat's path."""
        if self.bot is None:
            return
        for answer in answers:
            task = asyncio.create_task(answer_callback(self.bot, answer))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

    async def _not_an_event(self, incoming: Incoming) -> None:
        """Membership changes and group traffic: recorded, and blocks noted for the outbox."""
        now = self.clock.now()
        query = incoming.payload.get("callback_query")
        if query and incoming.chat_id is not None:
            # A button in a group is nobody's conversation; its spinner still stops.
            self._answer([CallbackAnswer(incoming.chat_id, query["id"])])
        member = incoming.payload.get("my_chat_member")
        async with self.db.transaction() as session:
            if member and incoming.private and incoming.chat_id is not None:
                status = member.get("new_chat_member", {}).get("status")
                outbox = OutboxRepo(session)
                if status == "kicked":
                    await outbox.mark_blocked(incoming.chat_id, now)
                elif status == "member":
                    await outbox.unblock(incoming.chat_id)
            await InboxRepo(session).mark_done(incoming.inbox_id, now)

    async def _failed(self, parts: list[Incoming], exc: Exception) -> None:
        """Keep the update (status failed, with the error) and tell the customer politely."""
        now = self.clock.now()
        first = parts[0]
        async with self.db.transaction() as session:
            inbox = InboxRepo(session)
            for part in parts:
                await inbox.mark_failed(part.inbox_id, f"{type(exc).__name__}: {exc}"[:500], now)
            if first.private and first.chat_id is not None:
                conversation = await ConversationRepo(session).open_for_chat(first.chat_id)
                locale = conversation.locale if conversation else self.texts.default_locale
                text = self.texts.render(locale, "common/error")
                message = Reply(first.chat_id, text).as_payload()
                await OutboxRepo(session).add_many([(first.chat_id, message)], now)
                callback = first.payload.get("callback_query")
                if callback:  # every pressed button gets an answer, even now
                    self._answer([CallbackAnswer(first.chat_id, callback["id"])])
        if self.on_outbox is not None:
            self.on_outbox()
