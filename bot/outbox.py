"""The outbox worker: delivers queued rows to Telegram, never twice, in order per chat.

Each chat is drained by at most one task at a time (strict id order, the chat's head row first);
different chats run concurrently up to `concurrency`. A row is claimed before its call and settled
right after it, both through the shared group-commit writer; no transaction spans network I/O.
Guarantees, retry policy and the remaining in-doubt window are described in docs/outbox.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

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
from sqlalchemy import and_, bindparam, func, not_, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.ratelimit import RateLimiter
from bot.render import PayloadError, plan
from dialogs.clock import Clock
from storage.db import Database
from storage.group import GroupWriter
from storage.models import BlockedChat, Outbox
from storage.repos import OutboxRepo

log = logging.getLogger(__name__)

# While a worker holds a row, its `error` says so and `next_attempt_at` is the end of the lease
# (the schema has no 'sending' status; see docs/outbox.md). The row stays 'pending', so the
# chat's later rows keep waiting behind it.
CLAIM_PREFIX = "in flight: "
RECORD_TRIES = 3
_AGAIN = object()
IN_DOUBT = "in doubt: a worker stopped while sending; not retried, it may have been delivered"
PROGRESS = "_progress"  # payload key: steps already accepted by Telegram, last message id

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


@dataclass(frozen=True, slots=True)
class Row:
    """What the worker needs of an outbox row, read while its session was open."""

    id: int
    chat_id: int
    payload: dict[str, Any]
    attempts: int
    next_attempt_at: datetime | None
    error: str | None


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
    ) -> None:
        self.db = db
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
        self._stopping = False
        self._busy: set[int] = set()  # chats with a task draining them
        self._crowded = False  # the last look found more due chats than free slots
        self._tasks: set[asyncio.Task[None]] = set()

    # --- control ------------------------------------------------------------------------------

    def wake(self) -> None:
        """New rows were committed: look now instead of at the next poll tick."""
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
        # In the group's transaction: no transaction of its own for a look that comes often.
        chats = await self.group.run(
            lambda session: _due_chats(session, self.clock.now(), limit, self._busy)
        )
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
        try:
            while not self._stopping:
                row = await self._next(chat_id)
                if row is None or not await self._send(row) or self._crowded:
                    return
        except Exception:
            log.exception("outbox delivery for chat %s failed", chat_id)
        finally:
            self._busy.discard(chat_id)
            self._wake.set()

    async def _next(self, chat_id: int) -> Row | None:
        """The chat's head row, claimed, once it is due; in-doubt rows are failed on the way.

        Claims of many chats share one statement and one commit (the group writer); only a head
        that is neither claimable nor plainly absent or not yet due takes the slow path. The
        rate slots are waited for after the claim (in `_send`), well inside the lease.
        """
        while (taken := await self.group.run_merged(self._claim_heads, chat_id)) is _AGAIN:
            now = self.clock.now()
            clear = functools.partial(self._clear_head, chat_id=chat_id, now=now)
            if not await self.group.run(clear):
                return None
        return taken if isinstance(taken, Row) else None

    async def _claim_heads(self, session: AsyncSession, chat_ids: list[int]) -> list[object]:
        """For each chat: its head row claimed, None (nothing due), or _AGAIN (look closer)."""
        now = self.clock.now()
        claimed = await _claim_heads(session, chat_ids, now, now + self.lease, self.worker_id)
        missed = [chat_id for chat_id in chat_ids if chat_id not in claimed]
        heads = await _heads(session, missed) if missed else {}
        answers: list[object] = []
        for chat_id in chat_ids:
            if chat_id in claimed:
                answers.append(claimed[chat_id])
            elif chat_id not in heads or not _is_due(heads[chat_id], now):
                answers.append(None)
            else:  # due but not claimed: blocked, a vanished worker's lease, or a race
                answers.append(_AGAIN)
        return answers

    async def _clear_head(self, session: AsyncSession, chat_id: int, now: datetime) -> bool:
        """The chat's head is due but was not claimed: find out why. True if it is worth
        claiming again (a vanished worker's row was given up); False if the chat is blocked
        (noted) or another worker holds the row."""
        row = (await _heads(session, [chat_id])).get(chat_id)
        if row is None or not _is_due(row, now):
            return False
        repo = OutboxRepo(session)
        if await repo.is_blocked(chat_id):
            await repo.mark_blocked(chat_id, now)
            return False
        if _claimed(row):  # its lease ran out: the worker that held it is gone
            if await _give_up_in_doubt(session, row.id, now):
                log.error("outbox row %s is in doubt (%s); not sent again", row.id, row.error)
            return True
        return False  # another worker took it meanwhile; the next look tries again

    # --- one row ------------------------------------------------------------------------------

    async def _send(self, row: Row) -> bool:
        """Deliver a claimed row; True if the chat's next row may follow right away."""
        progress: dict[str, Any] = row.payload.get(PROGRESS) or {}
        done: int = progress.get("steps", 0)
        message_id: int | None = progress.get("message_id")
        try:
            steps = plan(row.payload)
        except Exception as error:
            return await self._failed_call(row, error)
        for index in range(done, len(steps)):
            step = steps[index]
            if step.flood_limited:
                try:
                    await self.limiter.acquire(row.chat_id)
                except asyncio.CancelledError:
                    # Stopped before a call: nothing is in flight, so hand the row back
                    # (its progress kept) instead of leaving it to become "in doubt".
                    await self._record(row.id, error=None, next_attempt_at=None)
                    raise
            try:
                message_id = await step.call(self.bot, message_id) or message_id
            except Exception as error:
                return await self._failed_call(row, error)
            # Telegram has accepted the step: record that before anything else can go wrong.
            if index < len(steps) - 1:
                # Steps done go into the payload (the table has no column for them); the
                # lease is renewed for the next step.
                row.payload[PROGRESS] = {"steps": index + 1, "message_id": message_id}
                lease_end = self.clock.now() + self.lease
                await self._record(row.id, payload=row.payload, next_attempt_at=lease_end)
        await self._record(row.id, sent=(self.clock.now(), message_id))
        return True

    async def _record(
        self, outbox_id: int, *, sent: tuple[datetime, int | None] | None = None, **values: Any
    ) -> None:
        """Write what Telegram accepted (`sent`: the row is done; else the given columns).
        This write is what keeps the row from being sent again, so a failing commit is retried
        briefly; if it still fails the row stays claimed and ends up "in doubt", which is never
        re-sent either."""
        for attempt in range(1, RECORD_TRIES + 1):
            try:
                if sent is not None:  # the usual write: many chats' marks in one statement
                    await self.group.run_merged(_mark_sent, (outbox_id, *sent))
                else:
                    await self.group.run(functools.partial(_update, outbox_id, values))
                return
            except SQLAlchemyError:
                if attempt == RECORD_TRIES:
                    raise
                log.warning("recording outbox row %s failed, retrying", outbox_id, exc_info=True)
                await asyncio.sleep(0.2 * attempt)

    async def _failed_call(self, row: Row, error: Exception) -> bool:
        now = self.clock.now()
        description = _describe(error)
        async with self.db.transaction() as session:
            repo = OutboxRepo(session)
            if isinstance(error, TelegramRetryAfter):
                # Flood control, not a failure: wait as told, keep the attempt count.
                self.limiter.penalize(row.chat_id, error.retry_after)
                wait_until = now + timedelta(seconds=error.retry_after)
                await _update(
                    row.id, {"next_attempt_at": wait_until, "error": description}, session
                )
                log.warning("outbox row %s: retry after %s s", row.id, error.retry_after)
                return False
            if isinstance(error, TelegramForbiddenError):
                # Blocked by the user, kicked from the group, deactivated: never retry.
                await repo.mark_blocked(row.chat_id, now)
                await session.execute(
                    update(Outbox).where(Outbox.id == row.id).values(error=description)
                )
                log.warning("chat %s is blocked: %s", row.chat_id, description)
                return False
            if isinstance(error, TRANSIENT) and not isinstance(error, TelegramEntityTooLarge):
                attempt = row.attempts + 1
                if attempt < self.retry.max_attempts:
                    delay = self.retry.delay(attempt, self.rand())
                    await repo.reschedule(row.id, now + timedelta(seconds=delay), description)
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


# --- queries (they belong in storage.repos.OutboxRepo; see docs/outbox.md) ---------------------

# The statements the worker runs all the time are built once, on the table (no ORM
# bookkeeping), with their parameters bound at each call.
_t = Outbox.__table__
_NOW = bindparam("now", type_=_t.c.next_attempt_at.type)
_DUE = or_(_t.c.next_attempt_at.is_(None), _t.c.next_attempt_at <= _NOW)
_FREE = or_(_t.c.error.is_(None), not_(_t.c.error.startswith(CLAIM_PREFIX)))
_CHATS = bindparam("chats", expanding=True)
_HEAD_IDS = (
    select(func.min(_t.c.id))
    .where(_t.c.chat_id.in_(_CHATS), _t.c.status == "pending")
    .group_by(_t.c.chat_id)
)
_ALL_HEADS = (
    select(func.min(_t.c.id).label("id"))
    .where(_t.c.status == "pending")
    .group_by(_t.c.chat_id)
    .subquery()
)
_DUE_CHATS = (
    select(_t.c.chat_id)
    .join(_ALL_HEADS, _t.c.id == _ALL_HEADS.c.id)
    .where(_DUE, _t.c.chat_id.not_in(bindparam("exclude", expanding=True)))
    .order_by(_t.c.id)
    .limit(bindparam("limit"))
)
_ROW_COLUMNS = (_t.c.id, _t.c.chat_id, _t.c.payload, _t.c.attempts, _t.c.next_attempt_at,
                _t.c.error)  # fmt: skip
_HEADS = select(*_ROW_COLUMNS).where(_t.c.id.in_(_HEAD_IDS))
_BLOCKED = select(BlockedChat.__table__.c.chat_id).where(
    BlockedChat.__table__.c.chat_id.in_(_CHATS)
)
_CLAIM_HEADS = (
    update(_t)
    .where(_t.c.id.in_(_HEAD_IDS), _DUE, _FREE, _t.c.chat_id.not_in(_BLOCKED))
    .values(error=bindparam("claim"), next_attempt_at=bindparam("until", type_=_NOW.type))
    .returning(_t.c.id, _t.c.chat_id, _t.c.payload, _t.c.attempts)
)

_SENT = (
    update(_t)
    .where(_t.c.id == bindparam("b_id"))
    .values(
        status="sent",
        sent_at=bindparam("b_sent_at"),
        telegram_message_id=bindparam("b_message_id"),
        attempts=_t.c.attempts + 1,
        error=None,
    )
)


async def _due_chats(
    session: AsyncSession, now: datetime, limit: int, exclude: set[int]
) -> list[int]:
    """Chats whose oldest pending row is due, oldest first. Only heads count: a chat whose
    head waits for a retry is skipped whole, and one busy chat cannot fill the batch."""
    params = {"now": now, "limit": limit, "exclude": sorted(exclude)}
    return list((await session.scalars(_DUE_CHATS, params)).all())


async def _heads(session: AsyncSession, chat_ids: list[int]) -> dict[int, Row]:
    """The oldest pending row of each of these chats that has one."""
    rows = await session.execute(_HEADS, {"chats": chat_ids})
    return {row.chat_id: Row(*row) for row in rows}


async def _claim_heads(
    session: AsyncSession, chat_ids: list[int], now: datetime, until: datetime, worker_id: str
) -> dict[int, Row]:
    """Claim each chat's oldest pending row that is due, free, and not of a blocked chat."""
    error = f"{CLAIM_PREFIX}{worker_id}"
    params = {"chats": chat_ids, "now": now, "until": until, "claim": error}
    return {
        row.chat_id: Row(row.id, row.chat_id, dict(row.payload), row.attempts, until, error)
        for row in await session.execute(_CLAIM_HEADS, params)
    }


async def _mark_sent(
    session: AsyncSession, rows: list[tuple[int, datetime, int | None]]
) -> list[None]:
    """Rows Telegram accepted, as one executemany: (id, sent_at, telegram_message_id)."""
    params = [{"b_id": i, "b_sent_at": at, "b_message_id": m} for i, at, m in rows]
    await session.execute(_SENT, params)
    return [None] * len(rows)


async def _update(outbox_id: int, values: dict[str, Any], session: AsyncSession) -> None:
    await session.execute(update(Outbox).where(Outbox.id == outbox_id).values(**values))


async def _give_up_in_doubt(session: AsyncSession, outbox_id: int, now: datetime) -> bool:
    """At most once: a row whose worker vanished mid-call may have been delivered."""
    result = await session.execute(
        update(Outbox)
        .where(
            Outbox.id == outbox_id,
            Outbox.status == "pending",
            Outbox.error.startswith(CLAIM_PREFIX),
            and_(Outbox.next_attempt_at.is_not(None), Outbox.next_attempt_at <= now),
        )
        .values(status="failed", error=IN_DOUBT)
        .execution_options(synchronize_session=False)
    )
    return cast(CursorResult[Any], result).rowcount == 1


def _is_due(row: Row, now: datetime) -> bool:
    return row.next_attempt_at is None or row.next_attempt_at <= now


def _claimed(row: Row) -> bool:
    return (row.error or "").startswith(CLAIM_PREFIX)


def _describe(error: Exception) -> str:
    if isinstance(error, TelegramAPIError):
        return f"{type(error).__name__}: {error.message}"
    return f"{type(error).__name__}: {error}"
