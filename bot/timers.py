"""The timer worker: claims the clocks that fell due and hands each to its lane.

Claims are leases (`storage.repos.TimerRepo.claim_due`): a worker that dies mid-way loses
nothing, its timers are claimed again once the lease runs out, and the unit of work that
handles a timer marks it fired in the same transaction as its effects, so it fires once —
with several workers on one PostgreSQL database too. A clock that fell due while the bot was
down fires at the first look after the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from dialogs.clock import Clock
from storage.db import Database
from storage.repos import TimerRepo
from storage.views import TimerView

log = logging.getLogger(__name__)
FAILED_LOOK_PAUSE = 1.0  # seconds before looking again after a look failed (the database away)


class TimerWorker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        submit: Callable[[TimerView], None],
        *,
        lease: timedelta = timedelta(minutes=5),
        idle: float = 30.0,
        batch: int = 200,
        worker_id: str | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.submit = submit
        self.lease = lease
        self.idle = idle  # longest sleep between looks (the clock may be moved in tests)
        self.batch = batch
        self.worker_id = worker_id or uuid.uuid4().hex[:12]
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Look now (a timer was started, or the clock was moved)."""
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                # More are due when the batch was full: look again at once.
                pause = 0.0 if await self.tick() >= self.batch else await self._sleep()
            except Exception:  # a database hiccup (both looks) must not end the clocks
                log.exception("timer look failed")
                pause = FAILED_LOOK_PAUSE
            if pause:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), pause)

    async def tick(self) -> int:
        """Claim what is due now and hand it over; how many."""
        now = self.clock.now()
        async with self.db.transaction() as session:
            due = await TimerRepo(session).claim_due(now, now + self.lease, self.worker_id,
                                                     self.batch)  # fmt: skip
        for timer in due:
            self.submit(timer)
        return len(due)

    async def _sleep(self) -> float:
        """Until the next timer falls due, at most `idle` seconds."""
        async with self.db.read() as session:
            soonest = await TimerRepo(session).next_due()
        if soonest is None:
            return self.idle
        return max(0.05, min(self.idle, (soonest - self.clock.now()).total_seconds()))
