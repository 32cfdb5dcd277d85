"""Several workers on one database: a chat's updates handled once each and in Telegram's
order, whichever worker stored them and in whatever order they arrived; a dead worker's
lanes taken over; Telegram's limits held for all workers together."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.claims import Claims
from bot.intake import Inbox
from bot.processor import Processor
from bot.ratelimit import Limits, Rate
from bot.shared_limits import SharedRateLimiter
from dialogs.clock import SystemClock
from dialogs.texts import Texts
from storage.db import Database
from storage.repos import InboxRepo
from storage.repos.lanes import LaneRepo
from storage.unit import Units

CHAT = 501
OTHER = 502


def text(update_id: int, chat: int = CHAT) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "text": f"m{update_id}",
        "chat": {"id": chat, "type": "private"},
        "from": {"id": chat, "is_bot": False, "first_name": "C"}}}  # fmt: skip


class FinishingWork:
    """Stands in for `dialogs.work.Work`: finishes the jobs' inbox rows (once: a row another
    worker finished first is skipped, as the real unit of work does) and records, in commit
    order, which update ids of which chat it handled."""

    def __init__(self, db: Database, handled: list[tuple[int, int]], pause: float = 0.02) -> None:
        self.db = db
        self.handled = handled
        self.pause = pause

    async def run_many(self, jobs):
        return [await self.run(job) for job in jobs]

    async def run(self, job):
        await asyncio.sleep(self.pause)  # a handler's work, so that turns overlap
        async with self.db.transaction() as s:
            done = await InboxRepo(s).finish_pending_many(job.inbox_ids, datetime.now(UTC))
            rows = [await InboxRepo(s).get(i) for i in sorted(done)]
        self.handled.extend((job.lane, row.update_id) for row in rows if row is not None)
        return []


Worker = tuple[Inbox, Processor, Claims | None]


def worker(db: Database, handled: list, name: str | None, *, settle: float = 0.0,
           lease: timedelta = timedelta(seconds=10), pause: float = 0.02) -> Worker:  # fmt: skip
    clock = SystemClock()
    claims = Claims(db, clock, name, lease=lease) if name else None
    processor = Processor(FinishingWork(db, handled, pause), Units(db, "Asia/Shanghai"), clock,
                          Texts(),
                          claims=claims, settle=settle)  # type: ignore[arg-type]  # fmt: skip
    inbox = Inbox(db, clock, processor.submit, claims=claims, check_order=settle > 0)
    return inbox, processor, claims


def of(handled: list[tuple[int, int]], chat: int) -> list[int]:
    return [update_id for lane, update_id in handled if lane == chat]


@pytest.mark.parametrize("settle", [0.0, 0.3])
async def test_a_later_update_stored_first_waits_for_the_one_before(db: Database, settle: float):
    """Webhook deliveries run in parallel: update 12 may be stored before 11. Telegram's ids
    go up one by one, so the gap says 11 is on its way; the bot waits a moment for it."""
    handled: list[tuple[int, int]] = []
    inbox, processor, _ = worker(db, handled, None, settle=settle)
    await inbox.store([text(10, OTHER)])  # the bot has seen update 10: ids are near here
    await inbox.store([text(12)])
    await asyncio.sleep(0.05)
    await inbox.store([text(11)])
    assert await processor.drain(10)
    if settle:
        assert of(handled, CHAT) == [11, 12]
    else:  # without the wait the reply to 12 would come first: what the wait is for
        assert of(handled, CHAT) == [12, 11]


async def test_a_chat_spread_over_two_workers_keeps_its_order(db: Database, database_url: str):
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL (one bot per SQLite file)")
    dbs = [db, Database(database_url)]  # `db` made the tables
    handled: list[tuple[int, int]] = []
    try:
        a = worker(dbs[0], handled, "worker-a")
        b = worker(dbs[1], handled, "worker-b")
        # A round-robin balancer: the chat's updates alternate between the workers, and
        # another chat's updates come in between.
        for n in range(1, 41):
            inbox = (a if n % 2 else b)[0]
            await inbox.store([text(100 + 2 * n), text(101 + 2 * n, OTHER)])
        for _, processor, _ in (a, b):
            assert await processor.drain(20)
        await asyncio.sleep(0.5)
        for _, processor, _ in (a, b):  # a lane let go may have been won back once more
            assert await processor.drain(20)
    finally:
        await dbs[1].dispose()
    assert of(handled, CHAT) == [100 + 2 * n for n in range(1, 41)]  # once each, in order
    assert of(handled, OTHER) == [101 + 2 * n for n in range(1, 41)]


async def test_a_row_another_worker_stored_waits_for_the_one_below_it(
    db: Database, database_url: str
):
    """The holder takes up update 22, which another worker stored, while 21 is still on its
    way to that other worker: 22 waits for 21 like a fresh delivery would."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL (one bot per SQLite file)")
    dbs = [db, Database(database_url)]  # `db` made the tables
    handled: list[tuple[int, int]] = []
    try:
        a = worker(dbs[0], handled, "worker-a", settle=2.0, pause=0.3)
        b = worker(dbs[1], handled, "worker-b", settle=2.0, pause=0.3)
        await a[0].store([text(20)])  # a holds the lane while it works on 20
        await b[0].store([text(22)])  # b loses the claim: 22 waits in the database
        await asyncio.sleep(0.5)  # a has taken 22 up by now
        await b[0].store([text(21)])
        for _ in range(2):  # a lane let go may have been won back once more
            for _, processor, _ in (a, b):
                assert await processor.drain(20)
            await asyncio.sleep(0.3)
    finally:
        await dbs[1].dispose()
    assert of(handled, CHAT) == [20, 21, 22]


async def test_a_dead_workers_lane_is_taken_over_once_its_lease_ran_out(
    db: Database, database_url: str
):
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL (one bot per SQLite file)")
    dbs = [db, Database(database_url)]  # `db` made the tables
    handled: list[tuple[int, int]] = []
    try:
        clock = SystemClock()
        dead = Claims(dbs[0], clock, "worker-dead", lease=timedelta(seconds=1))
        # It stores and claims, then dies before working the lane (its submit goes nowhere).
        await Inbox(dbs[0], clock, lambda _: None, claims=dead).store([text(7)])
        _, processor, alive = worker(dbs[1], handled, "worker-alive")
        assert alive is not None
        assert await alive.take_over(stored_before=timedelta(0)) == set()  # still leased
        await asyncio.sleep(1.1)
        lanes = await alive.take_over(stored_before=timedelta(0))
        assert lanes == {CHAT}
        for lane in lanes:
            processor.start_lane(lane)
        assert await processor.drain(10)
    finally:
        await dbs[1].dispose()
    assert of(handled, CHAT) == [7]


async def test_two_workers_share_one_chats_pace(db: Database, database_url: str):
    """Each worker alone would allow 10 a second; together they still send 10 a second."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the shared buckets live in PostgreSQL")
    dbs = [db, Database(database_url)]  # `db` made the tables
    limits = Limits(private=Rate(10, 3), group=Rate(1, 1), overall=Rate(1000, 50))
    try:
        pair = [SharedRateLimiter(one, limits) for one in dbs]
        started = time.monotonic()
        await asyncio.gather(*(pair[i % 2].acquire(CHAT) for i in range(13)))
        took = time.monotonic() - started
        # 3 at once (the burst), then 10 more at 0.1 s each.
        assert took >= 0.9
        started = time.monotonic()
        await pair[0].acquire(OTHER)  # another chat is not held up by this one
        assert time.monotonic() - started < 0.2
        pair[0].penalize(OTHER, 1.0)  # a 429 seen by one worker quiets the chat for both
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await pair[1].acquire(OTHER)
        assert time.monotonic() - started >= 0.7
    finally:
        await dbs[1].dispose()


async def test_two_workers_share_the_overall_pace_and_a_waiting_chat_holds_nobody_up(
    db: Database, database_url: str
):
    """Many chats across two workers keep the bot's overall rate; a chat still waiting for
    its own slot has booked no overall slot, so other chats go first."""
    if not database_url.startswith("postgresql"):
        pytest.skip("the shared buckets live in PostgreSQL")
    dbs = [db, Database(database_url)]
    limits = Limits(private=Rate(0.5, 1), group=Rate(1, 1), overall=Rate(10, 2))
    try:
        pair = [SharedRateLimiter(one, limits) for one in dbs]
        started = time.monotonic()
        await asyncio.gather(*(pair[i % 2].acquire(1000 + i) for i in range(12)))
        # 2 at once (the burst), then 10 more at 0.1 s each, though every chat was free.
        assert time.monotonic() - started >= 0.9
        chats = range(2000, 2005)
        await asyncio.gather(*(pair[0].acquire(chat) for chat in chats))
        await asyncio.sleep(0.5)  # the overall bucket has room again
        # Their next slots are over a second away: waiting, they must take no overall slot.
        waiting = [asyncio.create_task(pair[1].acquire(chat)) for chat in chats]
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await pair[0].acquire(OTHER)
        assert time.monotonic() - started < 0.2
        await asyncio.gather(*waiting)
    finally:
        await dbs[1].dispose()


async def test_a_worker_started_while_the_database_restarts_waits_for_it(monkeypatch):
    """A supervisor starts a killed worker again at once; if the database is restarting
    then, start-up waits for it instead of exiting (the chaos run met this)."""
    from bot import app

    monkeypatch.setattr(asyncio, "sleep", _no_sleep)
    tries: list[int] = []

    async def step() -> str:
        tries.append(1)
        if len(tries) < 3:
            raise ConnectionRefusedError(111, "Connection refused")
        return "started"

    assert await app._patiently(step) == "started"
    assert len(tries) == 3

    async def broken() -> None:  # not an outage: the start stops at once, as before
        raise ValueError("a bad migration")

    with pytest.raises(ValueError):
        await app._patiently(broken)


_real_sleep = asyncio.sleep


async def _no_sleep(seconds: float) -> None:
    await _real_sleep(0)


async def test_a_busy_workers_own_backlog_does_not_hide_a_dead_workers_lane(
    db: Database, database_url: str
):
    """The sweep looks at a bounded number of lanes, oldest rows first. A worker behind on
    many lanes of its own used to find them first, sweep after sweep (3,442 take-overs of 497
    lanes in one chaos run), while a dead worker's lane waited behind them."""
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers need PostgreSQL (one bot per SQLite file)")
    clock = SystemClock()
    busy = Claims(db, clock, "worker-busy")
    await Inbox(db, clock, lambda _: None, claims=busy).store([text(1), text(2, OTHER)])
    dead = Claims(db, clock, "worker-dead", lease=timedelta(seconds=0))
    await Inbox(db, clock, lambda _: None, claims=dead).store([text(3, 503)])
    await asyncio.sleep(0.01)
    async with db.read() as s:
        first = await LaneRepo(s).orphaned("worker-busy", clock.now(), clock.now(), limit=1)
        assert first == [CHAT]  # its own lane, oldest: it would be "taken over" again
    assert await busy.take_over(timedelta(0), working={CHAT, OTHER}) == {503}
