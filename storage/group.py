"""Group commit for small writes: many coroutines, one transaction.

Each `run(work)` call queues a function of the session; a single drainer runs everything queued
at that moment in one transaction and hands each caller its own result. Nothing waits on
purpose: a lone call commits at once, calls that pile up while a commit runs share the next.
If the shared transaction fails, each piece is redone alone so an error reaches only its caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T")
Work = Callable[[AsyncSession], Awaitable[Any]]


class GroupWriter:
    def __init__(self, db: Database, max_batch: int = 128) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: list[tuple[Work, asyncio.Future[Any]]] = []
        self._task: asyncio.Task[None] | None = None

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((work, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # whatever is ready right now joins the first batch
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                await self._commit(batch)
        finally:
            self._task = None

    async def _commit(self, batch: list[tuple[Work, asyncio.Future[Any]]]) -> None:
        try:
            async with self.db.transaction() as session:
                results = [await work(session) for work, _ in batch]
        except Exception as exc:  # each piece again on its own: the error reaches only its caller
            if len(batch) == 1:
                batch[0][1].set_exception(exc)
                return
            log.info("a group of %d writes failed; committing them one by one", len(batch))
            for work, future in batch:
                try:
                    async with self.db.transaction() as session:
                        future.set_result(await work(session))
                except Exception as exc:  # handed to the caller of this piece
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            future.set_result(result)
