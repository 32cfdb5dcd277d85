"""Works the inbox and the due timers: each lane's jobs one at a time and in order, lanes in
parallel. A lane is a customer's chat: whatever concerns one customer — their updates, an
agent's action on their case, a clock of their case — happens one at a time; customers never
wait on each other.

Updates arrive here only after they were stored (see `bot/intake.py`), timers only once
claimed (`bot/timers.py`). The parts of an album arrive as separate updates; they are gathered
for a moment and handled as one event. Each job goes through the unit of work
(`dialogs/work.py`), which finishes its inbox rows or fires its timer in the same transaction
as its effects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiogram import Bot

from bot.files import EvidenceStore
from bot.metrics import Metrics
from bot.render import answer_callback
from bot.roles import Roles
from bot.translate import Incoming, group_event, merge_album, route, to_event
from dialogs.clock import Clock
from dialogs.events import CallbackAnswer, Discard, Event, Outgoing, Reply
from dialogs.texts import Texts
from dialogs.work import (
    Batcher,
    CustomerInput,
    GroupInput,
    Job,
    MembershipInput,
    TimerInput,
    Work,
)
from storage.repos import InboxRepo
from storage.unit import Units
from storage.views import TimerView

log = logging.getLogger(__name__)
ALBUM_WAIT = 0.7  # seconds to wait for the next part of an album


@dataclass(frozen=True, slots=True)
class _Timer:
    """A claimed timer waiting in its lane."""

    timer: TimerView


Queued = Incoming | _Timer


class Processor:
    def __init__(
        self,
        work: Work,
        units: Units,
        clock: Clock,
        texts: Texts,
        *,
        evidence: EvidenceStore | None = None,
        bot: Bot | None = None,
        album_wait: float = ALBUM_WAIT,
        on_outbox: Callable[[], None] | None = None,
        roles: Roles | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.work = work
        self.metrics = metrics or Metrics()
        self._stored: dict[int, float] = {}  # inbox id -> when it was handed over (monotonic)
        self.roles = roles
        self.batcher = Batcher(work)
        self.units = units
        self.bot = bot
        self._answering: set[asyncio.Task[None]] = set()
        self.clock = clock
        self.texts = texts
        self.evidence = evidence
        self.album_wait = album_wait
        self.on_outbox = on_outbox
        self._queues: dict[int, asyncio.Queue[Queued]] = {}
        self._routing: asyncio.Queue[Incoming] = asyncio.Queue()
        self._router: asyncio.Task[None] | None = None
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, incoming: Incoming) -> None:
        """Queue a stored update (`route`d); call in the order the updates were stored."""
        self._stored[incoming.inbox_id] = time.monotonic()
        if incoming.private or (incoming.thread_id is None and incoming.card_ref is None):
            self._queue(incoming.lane, incoming)
            return
        # A case topic's update (or a reply to a case card, a button on one) belongs to the
        # lane of the customer whose case it is: found by a look-up, in arrival order (one
        # router), before it joins that lane.
        self._routing.put_nowait(incoming)
        if self._router is None or self._router.done():
            self._idle.clear()
            self._router = asyncio.create_task(self._route_topics())

    async def _route_topics(self) -> None:
        try:
            while not self._routing.empty():
                incoming = self._routing.get_nowait()
                lane = incoming.lane
                with contextlib.suppress(Exception):  # no case's topic: the group's own lane
                    found = await self.units.lane_of_group_update(
                        incoming.lane, incoming.thread_id, incoming.card_ref
                    )
                    lane = found if found is not None else lane
                self._queue(lane, incoming)
        finally:
            self._router = None
            if not self._workers and self._routing.empty():
                self._idle.set()

    def submit_timer(self, timer: TimerView) -> None:
        """Queue a claimed timer in the lane of the chat it concerns."""
        self._queue(timer.chat_id if timer.chat_id is not None else 0, _Timer(timer))

    def _queue(self, lane: int, item: Queued) -> None:
        queue = self._queues.setdefault(lane, asyncio.Queue())
        queue.put_nowait(item)
        if lane not in self._workers:
            self._idle.clear()
            self._workers[lane] = asyncio.create_task(self._work(lane, queue))

    async def recover(self) -> int:
        """Queue what a previous run stored but did not finish (a crash loses nothing)."""
        async with self.units.db.read() as session:
            rows = await InboxRepo(session).pending(limit=100_000)
            pending = [route(row.id, row.payload) for row in rows]
        for incoming in pending:
            self.submit(incoming)
        return len(pending)

    async def drain(self, seconds: float | None = None) -> bool:
        """Wait until every queued job was handled; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), seconds)
        except TimeoutError:
            return False
        return True

    @property
    def in_hand(self) -> int:
        lanes = sum(q.qsize() for q in self._queues.values()) + len(self._workers)
        return lanes + self._routing.qsize() + (self._router is not None)

    async def _work(self, lane: int, queue: asyncio.Queue[Queued]) -> None:
        carry: Queued | None = None
        try:
            while carry is not None or not queue.empty():
                current = carry or queue.get_nowait()
                carry = None
                if isinstance(current, _Timer):
                    await self._fire(lane, current.timer)
                elif current.media_group_id and current.private:
                    parts, carry = await self._album(current, queue)
                    await self._handle(lane, parts)
                else:
                    await self._handle(lane, [current])
        finally:
            del self._workers[lane]
            if queue.empty():
                self._queues.pop(lane, None)
            if not self._workers and self._router is None:
                self._idle.set()

    async def _album(
        self, first: Incoming, queue: asyncio.Queue[Queued]
    ) -> tuple[list[Incoming], Queued | None]:
        parts = [first]
        while True:
            try:
                nxt = await asyncio.wait_for(queue.get(), self.album_wait)
            except TimeoutError:
                return parts, None
            if not isinstance(nxt, Incoming) or nxt.media_group_id != first.media_group_id:
                return parts, nxt
            parts.append(nxt)

    async def _fire(self, lane: int, timer: TimerView) -> None:
        try:
            await self.batcher.submit(Job(lane, TimerInput(timer), timer_id=timer.id))
        except Exception:
            # Not fired: its claim runs out and it is claimed again (a bug shows in the log).
            log.exception("timer %s (%s) failed", timer.id, timer.kind)

    async def _handle(self, lane: int, parts: list[Incoming]) -> None:
        first = parts[0]
        fetched: Event | None = None
        ids = tuple(p.inbox_id for p in parts)
        try:
            job = self._job(lane, parts, ids)
            if isinstance(job.input, GroupInput) and self.roles is not None:
                event = job.input.event
                if event.user_id and event.kind != "unsupported":
                    role = await self.roles.role(event.chat_id, event.user_id)
                    job = Job(lane, GroupInput(event, role), inbox_ids=ids)
            if isinstance(job.input, CustomerInput) and job.input.event.kind == "media":
                event = job.input.event
                if self.evidence is not None:
                    slots = await self.work.media_slots(event.chat_id)
                    fetched = await self.evidence.fetch(event, slots)
                    job = Job(lane, CustomerInput(fetched), inbox_ids=ids)
            outgoing = await self.batcher.submit(job)
            self._after(outgoing)
        except Exception as exc:
            self._done(ids)
            self.metrics.handler_errors.inc()
            log.exception("update %s failed", first.payload.get("update_id"))
            if fetched is not None and self.evidence is not None:  # nothing of it was kept
                self.evidence.discard(m.local_path for m in fetched.media)
            await self._failed(parts, exc)
        else:
            self._done(ids)

    def _done(self, ids: tuple[int, ...]) -> None:
        """Each update's time from stored to processed, into the latency histogram."""
        now = time.monotonic()
        for inbox_id in ids:
            stored = self._stored.pop(inbox_id, None)
            if stored is not None:
                self.metrics.update_latency.observe(now - stored)

    def _job(self, lane: int, parts: list[Incoming], ids: tuple[int, ...]) -> Job:
        """What the stored update is: a customer's event, a group's, a membership change."""
        first = parts[0]
        member = first.payload.get("my_chat_member")
        if member is not None:
            status = member.get("new_chat_member", {}).get("status")
            chat = first.chat_id or 0
            if first.private and status in ("kicked", "member"):
                return Job(lane, MembershipInput(chat, blocked=status == "kicked"), inbox_ids=ids)
            return Job(lane, GroupInput(_noop(first)), inbox_ids=ids)
        if not first.private:
            event = group_event(first.inbox_id, first.payload)
            return Job(lane, GroupInput(event or _noop(first)), inbox_ids=ids)
        events = [e for p in parts if (e := to_event(p.inbox_id, p.payload)) is not None]
        event = merge_album(events) if len(events) > 1 else events[0]
        return Job(lane, CustomerInput(event), inbox_ids=ids)

    def _after(self, outgoing: list[Outgoing]) -> None:
        """After the commit: stop pressed buttons' spinners, delete files nobody kept."""
        self._answer([o for o in outgoing if isinstance(o, CallbackAnswer)])
        if self.evidence is not None:
            for discard in (o for o in outgoing if isinstance(o, Discard)):
                self.evidence.discard(discard.paths)

    def _answer(self, answers: list[CallbackAnswer]) -> None:
        """Off the lane's path: an answer only stops a spinner (losing one costs nothing)."""
        if self.bot is None:
            return
        for answer in answers:
            task = asyncio.create_task(answer_callback(self.bot, answer))
            self._answering.add(task)
            task.add_done_callback(self._answering.discard)

    async def _failed(self, parts: list[Incoming], exc: Exception) -> None:
        """Keep the update (status failed, with the error) and tell the customer politely."""
        first = parts[0]
        message = None
        if first.private and first.chat_id is not None:
            record = await self.units.conversation(first.chat_id)
            locale = record.locale if record else self.texts.default_locale
            text = self.texts.render(locale, "common/error")
            message = (first.chat_id, Reply(first.chat_id, text).as_payload())
            callback = first.payload.get("callback_query")
            if callback:  # every pressed button gets an answer, even now
                self._answer([CallbackAnswer(first.chat_id, callback["id"])])
        ids = [p.inbox_id for p in parts]
        await self.units.fail_inputs(ids, f"{type(exc).__name__}: {exc}", self.clock.now(),
                                     message)  # fmt: skip
        if message is not None and self.on_outbox is not None:
            self.on_outbox()


def _noop(incoming: Incoming) -> Event:
    """A group update no handler reads (a membership change in a group, an inline button):
    taken and finished like any other, so nothing stays pending."""
    return Event(incoming.inbox_id, incoming.chat_id or 0, 0, "unsupported")
