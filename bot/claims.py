"""Several workers on one PostgreSQL database: who works which customer's lane.

Each `aftersales run --webhook` worker stores the updates it receives, whichever customer they
concern (a round-robin proxy in front spreads a chat's updates over all of them). A customer's
updates must still be handled once each and in Telegram's order, so a lane is **claimed**
(`storage.repos.lanes`): the worker that stores an update claims its lane in the same
transaction; if another worker holds it, the row is left to the holder. The holder reads the
lane's pending rows from the database before each turn (rows others stored join in
`update_id` order) and, before it lets the lane go, releases it and looks once more: a row
stored by a worker that lost the claim meanwhile is then either seen here or claimed by that
worker, never by nobody.

A worker killed mid-batch holds its lanes only until its lease runs out (it renews them while
it lives); then any other worker's sweep finds the lanes' unfinished rows and takes them over.
The unit of work finishes inbox rows guarded (pending → done once), so a takeover that
overlaps a slow holder's last commit still counts each update once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from dialogs.clock import Clock
from storage.db import Database
from storage.group import GroupWriter
from storage.repos.lanes import LaneRepo, PendingRow

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=10)  # how long a dead worker's lanes wait for a takeover
SWEEP_EVERY = 2.0  # seconds between looks for lanes a dead worker left
STALE = timedelta(seconds=2)  # a row this old in a lane nobody holds was left behind


class Claims:
    def __init__(self, db: Database, clock: Clock, worker_id: str, *,
                 lease: timedelta = LEASE) -> None:  # fmt: skip
        self.db = db
        self.clock = clock
        self.worker_id = worker_id
        self.lease = lease
        self.group = GroupWriter(db)

    async def claim(self, session: AsyncSession, lanes: set[int]) -> set[int]:
        """In the caller's transaction (the one storing the updates): the lanes won."""
        now = self.clock.now()
        return await LaneRepo(session).claim(sorted(lanes), self.worker_id, now, now + self.lease)

    async def pending(self, lane: int) -> list[PendingRow]:
        async with self.db.read() as session:
            return await LaneRepo(session).pending(lane)

    async def let_go(self, lane: int) -> list[PendingRow]:
        """Release the lane and look once more, in one transaction: if rows came meanwhile
        (a worker that lost its claim left them) the lane is kept and they are returned.
        Lanes let go at the same moment share the transaction (hundreds finish a second)."""
        return await self.group.run_merged(self._let_go_many, lane)  # type: ignore[no-any-return]

    async def _let_go_many(self, session: AsyncSession, lanes: list[int]) -> list[list[PendingRow]]:
        repo = LaneRepo(session)
        await repo.release_many(lanes, self.worker_id)
        found: dict[int, list[PendingRow]] = {}
        for lane, row in await repo.pending_of(set(lanes), exclude=set(), limit=50 * len(lanes)):
            found.setdefault(lane, []).append(row)
        kept = await self.claim(session, set(found)) if found else set()
        return [found.get(lane, []) if lane in kept else [] for lane in lanes]

    async def take_over(self, stored_before: timedelta = STALE,
                        working: Collection[int] = ()) -> set[int]:  # fmt: skip
        """Claim lanes with unfinished rows that nobody holds, but for those this worker is
        `working` on now (its own backlog is not left behind); the lanes won."""
        now = self.clock.now()
        async with self.db.read() as session:
            lanes = await LaneRepo(session).orphaned(self.worker_id, now, now - stored_before,
                                                     working=working)  # fmt: skip
        if not lanes:
            return set()
        async with self.db.transaction() as session:
            return await self.claim(session, set(lanes))

    async def renew(self) -> None:
        async with self.db.transaction() as session:
            await LaneRepo(session).renew(self.worker_id, self.clock.now() + self.lease)

    async def release_all(self) -> None:
        async with self.db.transaction() as session:
            await LaneRepo(session).release_all(self.worker_id)

    async def keep(self, start_lane: Callable[[int], None], stopping: asyncio.Event,
                   working: Callable[[], Collection[int]] = frozenset) -> None:  # fmt: skip
        """Until `stopping`: renew this worker's leases and take over lanes left behind
        (`working`: the lanes this worker is on now)."""
        while not stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), SWEEP_EVERY)
            if stopping.is_set():
                break
            try:
                await self.renew()
                for lane in sorted(await self.take_over(working=working())):
                    log.info("working lane %s: rows left unfinished", lane)
                    start_lane(lane)
            except Exception:  # the database restarting: the next sweep tries again
                log.warning("lane sweep failed", exc_info=True)
