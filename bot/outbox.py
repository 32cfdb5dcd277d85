"""The outbox worker: delivers queued rows to Telegram, never twice, in order per chat.

Each chat is drained by at most one task at a time (strict id order, the chat's head row first);
different chats run concurrently up to `concurrency`. A row is claimed (`sending`, with a lease)
before its call and settled right after it, both through the shared group-commit writer; no
transaction spans network I/O. The rows' states and their SQL are `storage.repos.OutboxRepo`'s;
guarantees, retry policy and the remaining in-doubt window are in docs/outbox.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot.metrics import Metrics
from bot.ratelimit import RateLimiter
from bot.render import PayloadError, plan
from bot.topics import Topics, lost_topic
from dialogs.clock import Clock
from storage.db import Database, is_outage
from storage.domain import OutboxStatus
from storage.group import GroupWriter
from storage.repos import OutboxRepo
from storage.repos.outbox import OutboxRow

log = logging.getLogger(__name__)

RECORD_TRIES = 3
RECORD_OUTAGE = 60.0  # seconds a sent mark waits for the database to come back
_AGAIN = object()


class _NotRecorded(Exception):
    """Telegram accepted a step of the row but writing that down failed."""


TRANSIENT = (
    TelegramServerError,
    TelegramNetworkError,
    TelegramUnauthorizedError,  # a token being rotated: do not burn the queue at once
    ClientDecodeError,  # a proxy's HTML error page instead of JSON
    aiohttp.ClientError,
    TimeoutError,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter for 5xx and network errors (429 follows retry_after)."""

    base: float = 1.0
    cap: float = 300.0
    jitter: float = 0.2  # +-20 %, so rows failed together do not come back together
    max_attempts: int = 10

    def delay(self, attempt: int, rand: float) -> float:
        """Seconds before try `attempt + 1`, given a uniform `rand` in [0, 1)."""
        raw = min(self.cap, self.base * 2 ** (attempt - 1))
        return raw * (1 + self.jitter * (2 * rand - 1))


class OutboxWorker:
    def __init__(
        self,
        db: Database,
        bot: Bot,
        *,
        limiter: RateLimiter,
        clock: Clock,
        batch: int = 100,
        concurrency: int = 32,
        poll_interval: float = 0.5,
        lease: timedelta = timedelta(seconds=120),
        retry: RetryPolicy | None = None,
        rand: Callable[[], float] = random.random,
        worker_id: str | None = None,
        topics: Topics | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.db = db
        self.metrics = metrics or Metrics()
        self.topics = topics  # rows for a case's topic in the agents' group
        self.bot = bot
        self.limiter = limiter
        self.clock = clock
        self.batch = batch
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        # Longer than aiogram's 60 s request timeout plus a rate-limit wait: a live worker's
        # row must not be declared in doubt while its call is still running.
        self.lease = lease
        self.retry = retry or RetryPolicy()
        self.rand = rand
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self.group = GroupWriter(db)  # claims and "sent" marks of many chats share a commit
        self._wake = asyncio.Event()
        self._wakes = 0  # how often wake() was called: a drain's end tells if it missed one
        self._stopping = False
        self._busy: set[int] = set()  # chats with a task draining them
        self._crowded = False  # the last look found more due chats than free slots
        self._tasks: set[asyncio.Task[None]] = set()
        # Rows a call was made for whose outcome may not be recorded: never taken back as
        # this worker's own unsent claim (`_own_claim`). Few: a failed record keeps one.
        self._called: set[int] = set()

    # --- control ------------------------------------------------------------------------------

    def wake(self) -> None:
        """New rows were committed: look now instead of at the next poll tick."""
        self._wakes += 1
        self._wake.set()

    async def run(self) -> None:
        """Deliver until `stop()`."""
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    await self._tick()
                except Exception:  # a database hiccup must not end delivery for good
                    log.exception("outbox poll failed")
                # A chat task that finishes, or the service's on_outbox hook, sets the event.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)
        finally:
            await self._cancel_tasks()

    async def flush(self, timeout: float) -> bool:  # noqa: ASYNC109 - a deadline, not a call timeout
        """Send every row due now; True if none is left (rows waiting for a retry stay)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            started = await self._tick()
            if not started and not self._tasks:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if self._tasks:
                await asyncio.wait(
                    set(self._tasks), timeout=remaining, return_when=asyncio.FIRST_COMPLETED
                )

    async def stop(self, timeout: float = 5.0) -> bool:  # noqa: ASYNC109 - a deadline
        """Flush for up to `timeout` seconds, then stop `run()`; True if everything went out.

        A call cut off here leaves its row claimed: it becomes "in doubt" (docs/outbox.md).
        """
        flushed = await self.flush(timeout)
        self._stopping = True
        self._wake.set()
        await self._cancel_tasks()
        return flushed

    async def _cancel_tasks(self) -> None:
        tasks = set(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- scheduling ---------------------------------------------------------------------------

    async def _tick(self) -> int:
        """Start a task for each idle chat whose head row is due; how many were started."""
        limit = min(self.batch, self.concurrency - len(self._busy))
        if limit <= 0 or self._stopping:
            return 0
        # A read, not a write: on SQLite every write transaction of the process queues for the
        # one writer (units of work, inbox rows, claims, sent marks), and this look is the first
        # step between a committed row and its call. In the group writer's queue it waited
        # there once, and the head's claim once more; a WAL read waits for nobody.
        async with self.db.read() as session:
            chats = await OutboxRepo(session).due_chats(self.clock.now(), limit, self._busy)
        # Every slot is wanted: more chats may be waiting than there are free slots.
        self._crowded = len(chats) >= limit
        started = 0
        for chat_id in chats:
            if chat_id in self._busy:  # a concurrent flush() got there first
                continue
            self._busy.add(chat_id)
            task = asyncio.create_task(self._drain(chat_id), name=f"outbox-chat-{chat_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
        return started

    async def _drain(self, chat_id: int) -> None:
        """Send the chat's rows in id order until one has to wait or none is due.

        While other chats wait for a slot, a chat gives its slot up after each row: a customer
        who answers at once would otherwise keep it for good while others wait behind.
        """
        drained = False  # nothing left to claim, and no wake() since that was known
        try:
            # The first row's rate slot before its claim, not after (the look found it due): a
            # worker killed between a claim and its call leaves the row "in doubt", never sent
            # again, so that stretch is kept to the claim's commit. The rows after it are
            # claimed first, so that a slot is never booked for a row that is not there.
            paid = True
            await self.limiter.acquire(chat_id)
            while not self._stopping:
                wakes = self._wakes
                row = await self._next(chat_id)
                if row is None:
                    drained = self._wakes == wakes
                    return
                if not await self._send(row, paid=paid) or self._crowded:
                    return
                if row.more is False and self._wakes == wakes:
                    drained = True  # no row followed it, none committed since: no claim
                    return
                paid = False
        except Exception:
            log.exception("outbox delivery for chat %s failed", chat_id)
        finally:
            self._busy.discard(chat_id)
            # Look again unless nothing can be waiting for it: a row committed while this
            # chat was busy was left out of the look its wake() caused, and chats left
            # without a slot wait for this one. A drained chat in a quiet outbox saves the
            # look (one statement per message at a steady pace).
            if not drained or self._crowded:
                self._wake.set()

    async def _next(self, chat_id: int) -> OutboxRow | None:
        """The chat's head row, claimed, once it is due; in-doubt rows are failed on the way.

        Claims of many chats share one statement and one commit (the group writer); only a head
        that is neither claimable nor plainly absent or not yet due takes the slow path. The
        rate slots are waited for after the claim (in `_send`), well inside the lease.
        """
        outage_ends = time.monotonic() + RECORD_OUTAGE
        uncertain = False  # a claim's commit failed: it may have landed all the same
        while True:
            try:
                taken = await self.group.run_merged(self._claim_heads, chat_id)
                if taken is None and uncertain:
                    taken = await self._own_claim(chat_id)
            except Exception as exc:  # a connect refused is a bare OSError, not SQLAlchemy's
                if not is_outage(exc) or time.monotonic() >= outage_ends:
                    raise
                uncertain = True
                await asyncio.sleep(1.0)  # the database restarting
                continue
            if taken is not _AGAIN:
                return taken if isinstance(taken, OutboxRow) else None
            now = self.clock.now()
            clear = functools.partial(self._clear_head, chat_id=chat_id, now=now)
            if not await self.group.run(clear):
                return None

    async def _own_claim(self, chat_id: int) -> OutboxRow | None:
        """The chat's head if it is this worker's claim that no call was made for: a claim
        whose commit the server made though its answer was lost (a restart). It is sent now;
        left alone it would hold the chat until its lease ran out and then be given up as in
        doubt, never sent. A row this worker did call for stays as it is."""
        async with self.db.read() as session:
            head = (await OutboxRepo(session).heads([chat_id])).get(chat_id)
        mine = (head is not None and head.status == OutboxStatus.SENDING
                and head.claimed_by == self.worker_id and head.id not in self._called)  # fmt: skip
        return head if mine else None

    async def _claim_heads(self, session: AsyncSession, chat_ids: list[int]) -> list[object]:
        """For each chat: its head row claimed, None (nothing due), or _AGAIN (look closer)."""
        now = self.clock.now()
        repo = OutboxRepo(session)
        claimed = await repo.claim_heads(chat_ids, now, now + self.lease, self.worker_id)
        missed = [chat_id for chat_id in chat_ids if chat_id not in claimed]
        heads = await repo.heads(missed) if missed else {}
        answers: list[object] = []
        for chat_id in chat_ids:
            head = heads.get(chat_id)
            if chat_id in claimed:
                answers.append(claimed[chat_id])
            elif head is None or not _wanted(head, now):
                answers.append(None)
            else:  # due but not claimed: blocked, a vanished worker's lease, or a race
                answers.append(_AGAIN)
        return answers

    async def _clear_head(self, session: AsyncSession, chat_id: int, now: datetime) -> bool:
        """The chat's head wants the worker but was not claimed: find out why. True if it is
        worth claiming again (a vanished worker's row was given up); False if the chat is
        blocked (noted) or another worker holds the row."""
        repo = OutboxRepo(session)
        row = (await repo.heads([chat_id])).get(chat_id)
        if row is None or not _wanted(row, now):
            return False
        if await repo.is_blocked(chat_id):
            await repo.mark_blocked(chat_id, now)
            return False
        if row.status == OutboxStatus.SENDING:  # its lease ran out: the worker that held it is gone
            if await repo.give_up_in_doubt(row.id, now):
                log.error("outbox row %s is in doubt (held by %s); not sent again",
                          row.id, row.claimed_by)  # fmt: skip
            return True
        return False  # another worker took it meanwhile; the next look tries again

    # --- one row ------------------------------------------------------------------------------

    async def _send(self, row: OutboxRow, *, paid: bool = False) -> bool:
        """Deliver a claimed row; True if the chat's next row may follow right away."""
        self._called.add(row.id)
        go_on = await self._deliver(row, paid=paid)
        self._called.discard(row.id)  # its outcome is recorded (on an error it is not)
        return go_on

    async def _deliver(self, row: OutboxRow, *, paid: bool) -> bool:
        message_id = row.last_message_id
        payload = row.payload
        merged: tuple[OutboxRow, ...] = ()
        remade = False  # a deleted topic is made again once per row
        outage_ends = time.monotonic() + RECORD_OUTAGE
        while True:
            if "topic" in payload and self.topics is not None:
                try:
                    prepared = await self.topics.prepare(row, self.clock.now(), self.limiter)
                except Exception as error:
                    if is_outage(error) and time.monotonic() < outage_ends:
                        await asyncio.sleep(1.0)  # the database restarting: prepare again
                        continue
                    return await self._failed_call(row, error)
                if prepared.payload is None:  # superseded by a newer row: nothing to send
                    await self._record(None, sent=(row.id, self.clock.now(), None))
                    return True
                payload, merged = prepared.payload, prepared.merged
            elif row.message_thread_id is not None:
                payload = {**payload, "message_thread_id": row.message_thread_id}
            try:
                message_id = await self._steps(row, payload, message_id, paid=paid)
                paid = False  # a topic made again pays again
            except _NotRecorded:
                raise  # not Telegram's answer: the row stays claimed and ends in doubt
            except Exception as error:
                if not remade and self.topics is not None and lost_topic(error):
                    remade = True
                    await self.topics.forget(row)
                    payload = row.payload
                    continue
                return await self._failed_call(row, error)
            break
        now = self.clock.now()
        if merged:  # the rows that left with this one are done with it, in one commit
            done = [(row.id, now, message_id), *((m.id, now, message_id) for m in merged)]
            await self._record(functools.partial(_mark_all_sent, done))
        else:
            await self._record(None, sent=(row.id, now, message_id))
        if self.topics is not None and "topic" in payload:
            await self.topics.sent(row, payload, message_id)
        return True

    async def _steps(self, row: OutboxRow, payload: dict[str, object], message_id: int | None,
                     *, paid: bool = False) -> int | None:  # fmt: skip
        """Run the payload's steps not yet done; the id of the last message they left.
        `paid`: the first flood-limited step's slot was booked already."""
        steps = plan(payload)
        for index in range(row.steps_done, len(steps)):
            step = steps[index]
            if step.flood_limited and paid:
                paid = False
            elif step.flood_limited:
                try:
                    await self.limiter.acquire(row.chat_id)
                except asyncio.CancelledError:
                    # Stopped before a call: nothing is in flight, so hand the row back
                    # (its progress kept) instead of leaving it to become "in doubt".
                    await self._record(functools.partial(_release, row.id))
                    raise
            message_id = await step.call(self.bot, message_id) or message_id
            # Telegram has accepted the step: record that before anything else can go wrong.
            if index < len(steps) - 1:
                lease_end = self.clock.now() + self.lease
                step_done = functools.partial(_step_done, row.id, index + 1, message_id, lease_end)
                try:
                    await self._record(step_done)
                except Exception as exc:
                    raise _NotRecorded from exc
        return message_id

    async def _record(
        self,
        work: Callable[[AsyncSession], Awaitable[None]] | None,
        *,
        sent: tuple[int, datetime, int | None] | None = None,
    ) -> None:
        """Write what Telegram accepted (`sent`: the row is done; else `work`). This write is
        what keeps the row from being sent again, so a failing commit is retried briefly; if it
        still fails the row stays claimed and ends up "in doubt", never re-sent either."""
        outage_ends = time.monotonic() + RECORD_OUTAGE
        attempt = 0
        while True:
            attempt += 1
            try:
                if sent is not None:  # the usual write: many chats' marks in one statement
                    await self.group.run_merged(_mark_sent, sent)
                elif work is not None:
                    await self.group.run(work)
                return
            except Exception as exc:  # SQLAlchemy's errors, and a connect's bare OSError
                # A database restart is waited out (well inside the lease); anything else is
                # tried a few times only.
                waiting = is_outage(exc) and time.monotonic() < outage_ends
                if attempt >= RECORD_TRIES and not waiting:
                    raise
                log.warning("recording an outbox row failed, retrying", exc_info=True)
                await asyncio.sleep(min(0.2 * attempt, 2.0))

    async def _failed_call(self, row: OutboxRow, error: Exception) -> bool:
        now = self.clock.now()
        description = _describe(error)
        async with self.db.transaction() as session:
            repo = OutboxRepo(session)
            if isinstance(error, TelegramRetryAfter):
                # Flood control, not a failure: wait as told, keep the attempt count.
                self.metrics.telegram_429.inc()
                self.limiter.penalize(row.chat_id, error.retry_after)
                wait_until = now + timedelta(seconds=error.retry_after)
                await repo.retry_at(row.id, wait_until, description, count=False)
                log.warning("outbox row %s: retry after %s s", row.id, error.retry_after)
                return False
            if isinstance(error, TelegramForbiddenError):
                # Blocked by the user, kicked from the group, deactivated: never retry.
                await repo.mark_blocked(row.chat_id, now, description)
                log.warning("chat %s is blocked: %s", row.chat_id, description)
                return False
            if isinstance(error, TRANSIENT) and not isinstance(error, TelegramEntityTooLarge):
                attempt = row.attempts + 1
                if attempt < self.retry.max_attempts:
                    delay = self.retry.delay(attempt, self.rand())
                    next_try = now + timedelta(seconds=delay)
                    await repo.retry_at(row.id, next_try, description, count=True)
                    self.metrics.outbox_retries.inc()
                    log.warning(
                        "outbox row %s attempt %s failed, next in %.1f s: %s",
                        row.id, attempt, delay, description,
                    )  # fmt: skip
                    return False
                await repo.mark_failed(row.id, f"gave up after {attempt} attempts: {description}")
                log.error("outbox row %s failed for good: %s", row.id, description)
                return True
            # 400 and the like: the same request would fail again. Later rows still go.
            await repo.mark_failed(row.id, description)
            if isinstance(error, TelegramAPIError | PayloadError):
                log.error("outbox row %s rejected: %s", row.id, description)
            else:
                log.error("outbox row %s: unexpected error", row.id, exc_info=error)
            return True


def _wanted(row: OutboxRow, now: datetime) -> bool:
    """Pending and due, or left `sending` by a worker whose lease ran out."""
    if row.status == OutboxStatus.SENDING:
        return row.lease_until is not None and row.lease_until <= now
    return row.due(now)


async def _mark_sent(
    session: AsyncSession, rows: list[tuple[int, datetime, int | None]]
) -> list[None]:
    await OutboxRepo(session).mark_sent_many(rows)
    return [None] * len(rows)


async def _mark_all_sent(
    rows: list[tuple[int, datetime, int | None]], session: AsyncSession
) -> None:
    await OutboxRepo(session).mark_sent_many(rows)


async def _step_done(
    outbox_id: int, steps: int, message_id: int | None, until: datetime, session: AsyncSession
) -> None:
    await OutboxRepo(session).record_step(outbox_id, steps, message_id, until)


async def _release(outbox_id: int, session: AsyncSession) -> None:
    await OutboxRepo(session).release(outbox_id)


def _describe(error: Exception) -> str:
    if isinstance(error, TelegramAPIError):
        return f"{type(error).__name__}: {error.message}"
    return f"{type(error).__name__}: {error}"
