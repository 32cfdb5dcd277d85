"""Retention while the bot runs: `aftersales db prune` once a day, in the bot's own process.

The first run is an hour after the start (a restart loop does not prune over and over; a short
test run never prunes), then every 24 hours. Several workers may each run it: the statements
are idempotent. A failure is logged and tried again the next day. A run is a series of small
transactions (a few hundred cases each); the evidence files of each batch's anonymised cases
are deleted once it has committed.

`start` and `stop` are what `bot/app.py` calls; one pruner per database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.settings import Settings
    from dialogs.clock import Clock
    from dialogs.policy import Policy
    from storage.db import Database
    from storage.retention import PruneReport

log = logging.getLogger(__name__)
DAY = 24 * 3600.0
FIRST_RUN_AFTER = 3600.0


class Pruner:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        processed_days: int,
        retention_days: int,
        interval: float = DAY,
        first_after: float = FIRST_RUN_AFTER,
    ) -> None:
        self.db = db
        self.clock = clock
        self.processed_days = processed_days
        self.retention_days = retention_days
        self.interval = interval
        self.first_after = first_after
        self._stopped = asyncio.Event()

    async def run(self) -> None:
        delay = self.first_after
        while not await self._stopping_within(delay):
            try:
                await self.prune_once()
            except Exception:
                log.exception("pruning failed; trying again in %.0f s", self.interval)
            delay = self.interval

    def stop(self) -> None:
        self._stopped.set()

    async def prune_once(self) -> PruneReport:
        """One run, a bounded batch per transaction (`storage.retention.prune_in_batches`):
        the bot's memory and its other writers' waits do not grow with the history."""
        from storage.retention import prune_in_batches

        failed = 0

        async def committed(paths: tuple[str, ...]) -> None:
            nonlocal failed
            failed += await asyncio.to_thread(delete_files, paths)

        report = await prune_in_batches(
            self.db,
            now=self.clock.now(),
            processed_days=self.processed_days,
            retention_days=self.retention_days,
            committed=committed,
        )
        log.info(
            "pruned: %s%s",
            report.summary(),
            f" ({failed} files could not be deleted)" if failed else "",
        )
        return report

    async def _stopping_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stopped.wait(), seconds)
        except TimeoutError:
            return False
        return True


def delete_files(paths: Iterable[str]) -> int:
    """Delete evidence files whose rows are gone; how many could not be deleted."""
    failed = 0
    for path in paths:
        try:
            Path(path).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("could not delete %s: %s", path, exc)
            failed += 1
    return failed


_running: dict[int, tuple[Pruner, asyncio.Task[None]]] = {}


def start(db: Database, clock: Clock, settings: Settings, policy: Policy) -> Pruner:
    """The daily pruning of `db`, started (once)."""
    if id(db) in _running:
        return _running[id(db)][0]
    pruner = Pruner(
        db,
        clock,
        processed_days=settings.retention_processed_days,
        retention_days=policy.retention_days,
    )
    _running[id(db)] = (pruner, asyncio.create_task(pruner.run(), name="pruning"))
    return pruner


async def stop(db: Database) -> None:
    """Stop `db`'s pruning (a run in progress finishes first)."""
    found = _running.pop(id(db), None)
    if found is None:
        return
    pruner, task = found
    pruner.stop()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
