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
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from aiogram import Bot

from bot.claims import Claims
from bot.files import EvidenceStore
from bot.intake import SETTLE_WINDOW
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
from storage.db import is_outage
from storage.repos import InboxRepo
from storage.repos.lanes import PendingRow
from storage.unit import Units
from storage.views import TimerView

log = logging.getLogger(__name__)
ALBUM_WAIT = 0.7  # seconds to wait for the next part of an album
OUTAGE_PAUSE = 1.0  # seconds between tries while the database is away
SETTLE_STEP = 0.01  # seconds between looks for an update still on its way
BATCHES_AT_ONCE = 2  # on PostgreSQL; a third was not measurably better on the benchmark


@dataclass(frozen=True, slots=True)
class _Timer:
    """A claimed timer waiting in its lane."""

    timer: TimerView


Queued = Incoming | _Timer


class _LaneQueue:
    """A lane's waiting jobs in Telegram's order (`update_id`), whatever order they were
    stored in: webhook deliveries run in parallel, so a chat's second update can be stored
    first. Timers go ahead of updates (they were due already)."""

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, Queued]] = []
        self._serial = itertools.count()
        self.known: set[int] = set()  # inbox ids queued or in hand, so a re-read adds nothing
        self.arrived = asyncio.Event()

    def put(self, item: Queued) -> None:
        if isinstance(item, Incoming):
            if item.inbox_id in self.known:
                return
            self.known.add(item.inbox_id)
        key = item.update_id if isinstance(item, Incoming) else -1
        heapq.heappush(self._heap, (key, next(self._serial), item))
        self.arrived.set()

    def pop(self) -> Queued:
        return heapq.heappop(self._heap)[2]

    def first_key(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def __len__(self) -> int:
        return len(self._heap)

    async def wait(self, seconds: float) -> bool:
        """Wait for the next arrival; False when none came in time."""
        self.arrived.clear()
        try:
            await asyncio.wait_for(self.arrived.wait(), seconds)
        except TimeoutError:
            return False
        return True


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
        claims: Claims | None = None,
        settle: float = 0.0,
    ) -> None:
        self.work = work
        self.metrics = metrics or Metrics()
        self._stored: dict[int, float] = {}  # inbox id -> when it was handed over (monotonic)
        self.roles = roles
        # PostgreSQL: a second batch is handled while the first waits for the database.
        self.batcher = Batcher(work, parallel=1 if units.db.is_sqlite else BATCHES_AT_ONCE)
        self.units = units
        self.bot = bot
        self._answering: set[asyncio.Task[None]] = set()
        self.clock = clock
        self.texts = texts
        self.evidence = evidence
        self.album_wait = album_wait
        self.on_outbox = on_outbox
        # Several workers: lanes are claimed, and rows other workers stored join from the db.
        self.claims = claims
        # Webhook mode: how long an update may wait for one with a lower update_id that is
        # still on its way (0: updates arrive in order, as with polling).
        self.settle = settle
        self._gone: set[int] = set()  # update ids waited for in vain
        self._queues: dict[int, _LaneQueue] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()

    def submit(self, incoming: Incoming) -> None:
        """Queue a stored update in its lane (`Incoming.lane`, set when it was stored)."""
        self._stored[incoming.inbox_id] = time.monotonic()
        self._queue(incoming.lane, incoming)

    def submit_timer(self, timer: TimerView) -> None:
        """Queue a claimed timer in the lane of the chat it concerns."""
        self._queue(timer.chat_id if timer.chat_id is not None else 0, _Timer(timer))

    def working_lanes(self) -> set[int]:
        """The lanes with a task on them now."""
        return set(self._workers)

    def start_lane(self, lane: int) -> None:
        """Work a lane whose rows are in the database only (a takeover, a recovery)."""
        self._queues.setdefault(lane, _LaneQueue())
        self._start(lane)

    def _queue(self, lane: int, item: Queued) -> None:
        self._queues.setdefault(lane, _LaneQueue()).put(item)
        self._start(lane)

    def _start(self, lane: int) -> None:
        if lane not in self._workers:
            self._idle.clear()
            self._workers[lane] = asyncio.create_task(self._work(lane, self._queues[lane]))

    async def recover(self) -> int:
        """Queue what a previous run stored but did not finish (a crash loses nothing)."""
        if self.claims is not None:  # the lanes nobody else is working on
            lanes = await self.claims.take_over(stored_before=timedelta(0))
            for lane in sorted(lanes):
                self.start_lane(lane)
            return len(lanes)
        async with self.units.db.read() as session:
            rows = await InboxRepo(session).pending(limit=100_000)
            pending = [replace(route(row.id, row.payload), lane_id=row.lane) for row in rows]
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
        return sum(len(q) for q in self._queues.values()) + len(self._workers)

    async def _work(self, lane: int, queue: _LaneQueue) -> None:
        try:
            while True:
                try:
                    if not await self._turn(lane, queue):
                        return
                except Exception as exc:
                    if not is_outage(exc):
                        raise
                    # The database went away (a restart): nothing was kept, so the job is
                    # still pending; wait and do it again rather than fail the customer.
                    log.warning("lane %s waits for the database: %s", lane, exc)
                    await asyncio.sleep(OUTAGE_PAUSE)
        except Exception:
            log.exception("lane %s stopped", lane)  # its rows stay pending: recovered later
        finally:
            del self._workers[lane]
            if not queue:
                self._queues.pop(lane, None)
            if not self._workers:
                self._idle.set()

    async def _turn(self, lane: int, queue: _LaneQueue) -> bool:
        """Handle the lane's next job; False when there is none."""
        if not queue:
            if self.claims is None:
                return False
            self._join(lane, queue, await self.claims.let_go(lane))
            return bool(queue)
        current = queue.pop()
        if isinstance(current, _Timer):
            await self._fire(lane, current.timer)
            return True
        parts = [current]
        try:
            if await self._behind(lane, current, queue):
                return True
            if current.media_group_id and current.private:
                parts = await self._album(lane, current, queue)
            await self._handle(lane, parts)
        except Exception as exc:
            if is_outage(exc):  # nothing of it was kept: back in the queue, for the next try
                for part in parts:
                    queue.known.discard(part.inbox_id)
                    queue.put(part)
            raise
        for part in parts:  # done with: finished, or failed and kept as such
            queue.known.discard(part.inbox_id)
        return True

    def _join(self, lane: int, queue: _LaneQueue, rows: list[PendingRow]) -> None:
        """Rows of this lane other workers stored (or a dead one left) join the queue."""
        for row in rows:
            if row.id not in queue.known:
                # Its worker committed it; one just below it may still be on its way to
                # another worker's commit, so it is checked like a fresh delivery.
                queue.put(replace(route(row.id, row.payload), lane_id=lane,
                                  unsettled=bool(self.settle)))  # fmt: skip

    async def _behind(self, lane: int, current: Incoming, queue: _LaneQueue) -> bool:
        """True when an update of this lane with a lower update_id is to go first (`current`
        went back to the queue): one still on its way (waited for, up to `settle`), or one
        another worker stored meanwhile."""
        if self.settle and current.unsettled:
            await self._settle(current, queue)
        if self.claims is not None:
            # Rows of this lane other workers committed since `current` was queued: a burst's
            # parallel deliveries are stored in any order, and the one below may be far more
            # than the settle check's span of ids below when many chats talk at once.
            self._join(lane, queue, await self.claims.pending(lane))
        first = queue.first_key()
        if first is not None and first < current.update_id:
            queue.known.discard(current.inbox_id)
            queue.put(current)
            return True
        return False

    async def _settle(self, current: Incoming, queue: _LaneQueue) -> None:
        """Wait (up to `settle`) while an update just below this one is still on its way."""
        deadline = time.monotonic() + self.settle
        since = self.clock.now() - timedelta(seconds=SETTLE_WINDOW)
        while True:
            missing = await self.units.missing_before(current.update_id, since) - self._gone
            if not missing:
                return
            if time.monotonic() >= deadline:
                # Not coming (an update the bot was not sent, one refused as malformed):
                # remembered, so the updates after it do not wait for it again.
                self._gone.update(missing)
                if len(self._gone) > 10_000:
                    self._gone = set(sorted(self._gone)[-1000:])
                return
            await queue.wait(min(SETTLE_STEP, max(0.0, deadline - time.monotonic())))

    async def _album(self, lane: int, first: Incoming, queue: _LaneQueue) -> list[Incoming]:
        """The album's parts: those queued now and those that come within `album_wait`."""
        parts = [first]
        while True:
            key = queue.first_key()
            if key is None:
                if not await queue.wait(self.album_wait):
                    if self.claims is None:
                        return parts
                    before = len(queue)  # parts another worker stored
                    self._join(lane, queue, await self.claims.pending(lane))
                    if len(queue) == before:
                        return parts
                continue
            nxt = queue.pop()
            if not isinstance(nxt, Incoming) or nxt.media_group_id != first.media_group_id:
                if isinstance(nxt, Incoming):
                    queue.known.discard(nxt.inbox_id)
                queue.put(nxt)
                return parts
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
            if is_outage(exc):
                if fetched is not None and self.evidence is not None:  # fetched again later
                    self.evidence.discard(m.local_path for m in fetched.media)
                raise
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
