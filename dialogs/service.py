"""The conversation service: one event in, one transaction out.

For each event it loads the chat's conversation, lets the conversation take its turn, and
stores the new state, the case and its events, the outgoing messages (outbox) and the inbox
row as done — all in one transaction. An event id seen before is ignored. Events of one chat
are handled one at a time (a lock per chat in this process; the conversation's version column
across processes), different chats in parallel. All state lives in the database, so a new
service on the same database continues every conversation where it stood.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from dialogs.clock import Clock
from dialogs.conversation import Conversations, ConversationState, evidence_slots
from dialogs.events import Event, Outgoing, Reply
from dialogs.flow import State
from dialogs.store_port import StoragePort
from storage.db import Database
from storage.models import Conversation
from storage.repos import (
    ConversationRepo,
    ConversationSave,
    CustomerRepo,
    InboxRepo,
    OpenConversation,
    OutboxRepo,
)

log = logging.getLogger(__name__)
RETRIES = 5


class ChatLocks:
    """One asyncio.Lock per chat, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[int, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, chat_id: int) -> AsyncIterator[None]:
        lock, users = self._locks.get(chat_id, (asyncio.Lock(), 0))
        self._locks[chat_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[chat_id]
            if users <= 1:
                del self._locks[chat_id]
            else:
                self._locks[chat_id] = (lock, users - 1)


@dataclass(frozen=True)
class Job:
    """One event for `handle_many`, with the extra inbox rows it stands for (album parts)."""

    event: Event
    payload: dict[str, Any] | None = None
    also_done: Sequence[int] = ()
    # The intake stored it as pending and nobody else works this chat: no need to look it up;
    # the pending → done step at the end still guards against doing it twice.
    stored: bool = False


class AlreadyDone(Exception):
    """Another worker finished this update first: nothing of this attempt may be kept."""


class ConversationService:
    def __init__(
        self,
        db: Database,
        conversations: Conversations,
        clock: Clock,
        *,
        timezone: str,
        on_outbox: Callable[[], Awaitable[None] | None] | None = None,
    ) -> None:
        self.db = db
        self.conversations = conversations
        self.clock = clock
        self.timezone = timezone
        self.on_outbox = on_outbox
        self.locks = ChatLocks()

    async def handle(
        self,
        event: Event,
        payload: dict[str, Any] | None = None,
        *,
        also_done: Sequence[int] = (),
        stored: bool = False,
    ) -> list[Outgoing]:
        """Process one event exactly once; returns what was queued for sending ([] if seen).

        `stored`: the intake stored it, and `event.event_id` is its inbox row; otherwise the
        event is recorded first (with `event_id` as its update id), and a repeat is ignored.
        `also_done` names further inbox rows this event stands for (the other parts of an album).
        """
        async with self.locks.hold(event.chat_id):
            for attempt in range(RETRIES):
                try:
                    outgoing = await self._handle_once(event, payload, also_done, stored)
                    break
                except (StaleDataError, IntegrityError) as exc:
                    # Another worker wrote this chat's conversation first: reload and redo.
                    if attempt == RETRIES - 1:
                        raise
                    log.info("retrying event %s after concurrent write: %s", event.event_id, exc)
                    await asyncio.sleep(0.01 * (attempt + 1))
        await self._notify(_messages(outgoing))
        return outgoing

    async def media_slots(self, chat_id: int) -> int:
        """How many of a media event's files the chat's conversation would keep now."""
        async with self.db.read() as session:
            open_ = (await ConversationRepo(session).open_for_chats([chat_id])).get(chat_id)
        if open_ is None:
            return 0
        return evidence_slots(
            ConversationState(open_.state, open_.context, open_.locale, open_.customer_id)
        )

    async def handle_many(self, jobs: Sequence[Job]) -> list[list[Outgoing]]:
        """Several events of different chats in ONE transaction (group commit).

        Under load this is what keeps the database from being the bottleneck: one commit, and
        one turn of the SQLite write lock, for the whole batch. If anything fails, nothing of
        the batch is kept and the error propagates: redo the events one by one with `handle`
        (see `Batcher`), so one bad event costs only itself.
        """
        if len({job.event.chat_id for job in jobs}) != len(jobs):
            raise ValueError("a batch holds at most one event per chat")
        chats = sorted(job.event.chat_id for job in jobs)
        async with contextlib.AsyncExitStack() as held:
            for chat_id in chats:  # sorted: two batches can never wait on each other
                await held.enter_async_context(self.locks.hold(chat_id))
            now = self.clock.now()
            async with self.db.transaction() as session:
                known = await ConversationRepo(session).open_for_chats(chats)
                shop = StoragePort(session, self.timezone)
                # Most turns look at their conversation's order: one read for the batch.
                orders = {c.context.get("order_id") for c in known.values() if c.context}
                orders = {o for o in orders if isinstance(o, int)}
                await shop.preload_orders(orders, self.conversations.claims_since(now))
                writes = _Writes()
                results = [
                    await self._turn(
                        session, job.event, job.payload, job.also_done, now,
                        stored=job.stored, conversation=known.get(job.event.chat_id),
                        writes=writes, shop=shop,
                    )
                    for job in jobs
                ]  # fmt: skip
                await writes.apply(session, now)
        await self._notify(any(_messages(r) for r in results))
        return results

    async def _notify(self, anything: bool) -> None:
        if anything and self.on_outbox is not None:
            result = self.on_outbox()
            if result is not None:
                await result

    async def _handle_once(
        self,
        event: Event,
        payload: dict[str, Any] | None,
        also_done: Sequence[int],
        stored: bool,
    ) -> list[Outgoing]:
        now = self.clock.now()
        async with self.db.transaction() as session:
            if stored and not await InboxRepo(session).is_pending(event.event_id):
                return []  # another worker finished it
            return await self._turn(session, event, payload, also_done, now, stored=stored)

    async def _turn(
        self,
        session: AsyncSession,
        event: Event,
        payload: dict[str, Any] | None,
        also_done: Sequence[int],
        now: datetime,
        *,
        stored: bool = False,
        conversation: Conversation | OpenConversation | None = None,
        writes: _Writes | None = None,
        shop: StoragePort | None = None,
    ) -> list[Outgoing]:
        """One event inside the caller's transaction: state, case, outbox, inbox row.

        With `writes` (a batch), the conversation, the outbox rows and the inbox rows are left
        to the caller, who writes those of the whole batch at once; `conversation` is then the
        chat's open conversation as the batch read it (None: there is none).
        """
        inbox = InboxRepo(session)
        inbox_id = event.event_id
        if not stored:
            raw = _storable(payload or _describe(event))
            identity = f"event:{event.event_id}"
            recorded = await inbox.record(event.event_id, identity, event.chat_id, raw, now)
            if recorded is None:  # seen before: done, or left pending by a crash
                seen = await inbox.find(event.event_id, identity)
                if seen is None or seen.status == "done":
                    return []
                recorded = seen.id
            inbox_id = recorded
        repo = ConversationRepo(session)
        if conversation is None and writes is None:
            conversation = await repo.open_for_chat(event.chat_id)
        if conversation is None:
            customer = await CustomerRepo(session).by_telegram_user(event.user_id)
            conversation = await repo.create(
                event.chat_id,
                event.user_id,
                self.conversations.texts.locale(event.language_code),
                State.MENU.value if customer else State.IDENTIFY.value,
                {},
                customer_id=customer.id if customer else None,
                now=now,
            )
        state = ConversationState(
            state=conversation.state,
            context=copy.deepcopy(conversation.context or {}),
            locale=conversation.locale,
            customer_id=conversation.customer_id,
        )
        outgoing = await self.conversations.handle(
            state, event, shop or StoragePort(session, self.timezone), now
        )
        mode = "agent" if state.state == State.WITH_AGENT else "bot"
        # Callback answers are not stored: they only stop the button's spinner, so the caller
        # sends them straight after the commit (a lost one costs nothing but a slower spinner).
        messages = [(event.chat_id, m.as_payload()) for m in outgoing if isinstance(m, Reply)]
        if writes is not None:
            writes.conversations.append(
                ConversationSave(
                    conversation.id, conversation.version, state.state, state.context,
                    state.locale, state.customer_id, mode, now,
                )
            )  # fmt: skip
            writes.messages.extend(messages)
            # A stored update must still be pending (else another worker did it); one this
            # turn recorded (or found pending) is simply done.
            (writes.finished if stored else writes.done).append(inbox_id)
            writes.done.extend(also_done)
            return outgoing
        assert isinstance(conversation, Conversation)
        conversation.state = state.state
        conversation.context = state.context  # a new object, so the change is tracked
        conversation.locale = state.locale
        conversation.customer_id = state.customer_id
        conversation.mode = mode
        conversation.updated_at = now
        await OutboxRepo(session).add_many(messages, now)
        for done_id in (inbox_id, *also_done):
            await inbox.mark_done(done_id, now)
        await session.flush()
        return outgoing


@dataclass
class _Writes:
    """The rows a batch of turns writes alike, written with one statement each."""

    conversations: list[ConversationSave] = field(default_factory=list)
    messages: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    finished: list[int] = field(default_factory=list)  # stored updates: pending → done
    done: list[int] = field(default_factory=list)  # → done, whatever they were

    async def apply(self, session: AsyncSession, now: datetime) -> None:
        await ConversationRepo(session).save_many(self.conversations)
        await OutboxRepo(session).add_many(self.messages, now)
        inbox = InboxRepo(session)
        if self.finished:
            done = await inbox.finish_pending_many(self.finished, now)
            if len(done) != len(self.finished):
                # Another worker finished one of them: the batch is redone one by one.
                raise AlreadyDone(sorted(set(self.finished) - done))
        for inbox_id in self.done:
            await inbox.mark_done(inbox_id, now)


def _messages(outgoing: Sequence[Outgoing]) -> bool:
    return any(isinstance(o, Reply) for o in outgoing)


def _describe(event: Event) -> dict[str, Any]:
    """The event itself, for the inbox, when no raw Telegram update came with it."""
    data = asdict(event)
    data["media"] = [asdict(m) for m in event.media]
    return {"event": data}


def _storable(value: Any) -> Any:
    """PostgreSQL JSON cannot hold NUL characters; a customer can still type them."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


class Batcher:
    """Gathers events that are ready at the same moment into one `handle_many` call.

    No waiting is added: the first event starts a batch at once; events arriving while that
    batch's transaction runs form the next one. Quiet times give batches of one, busy times
    bigger ones. Callers guarantee one event per chat at a time (the processor does).
    """

    def __init__(self, service: ConversationService, max_batch: int = 64) -> None:
        self.service = service
        self.max_batch = max_batch
        self._pending: list[tuple[Job, asyncio.Future[list[Outgoing]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, job: Job) -> list[Outgoing]:
        future: asyncio.Future[list[Outgoing]] = asyncio.get_running_loop().create_future()
        self._pending.append((job, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # let the events that are ready right now join
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: self.max_batch]
                await self._run(batch)
        finally:
            self._task = None

    async def _run(self, batch: list[tuple[Job, asyncio.Future[list[Outgoing]]]]) -> None:
        try:
            results = await self.service.handle_many([job for job, _ in batch])
        except Exception:  # each event is redone alone, where its own error surfaces
            if len(batch) > 1:
                log.info("a batch of %d failed; handling its events one by one", len(batch))
            for job, future in batch:
                try:
                    # Alone, the full duplicate check runs (finds an update finished elsewhere).
                    future.set_result(
                        await self.service.handle(
                            job.event, job.payload, also_done=job.also_done, stored=job.stored
                        )
                    )
                except Exception as exc:  # handed to the event's own caller
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
