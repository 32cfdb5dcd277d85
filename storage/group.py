"""Group commit for small writes: many coroutines, one transaction.

Each `run(work)` call queues a function of the session; a single drainer runs everything queued
at that moment in one transaction and hands each caller its own result. Nothing waits on
purpose: a lone call commits at once, calls that pile up while a commit runs share the next.
`run_merged(merge, item)` goes further for writes of one kind: all items queued with the same
`merge` function become one call of it (one statement for a hundred rows, where a statement
each would cost far more than the rows themselves).
If the shared transaction fails, each piece is redone alone so an error reaches only its caller.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import Database

log = logging.getLogger(__name__)
T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - an item of merged work
Work = Callable[[AsyncSession], Awaitable[Any]]
# Many items in, one result per item out, in the same order.
Merge = Callable[[AsyncSession, list[Any]], Awaitable[Sequence[Any]]]


@dataclass(slots=True)
class _Piece:
    work: Work | None
    merge: Merge | None
    item: Any
    future: asyncio.Future[Any]


class GroupWriter:
    def __init__(self, db: Database, max_batch: int = 128) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: list[_Piece] = []
        self._task: asyncio.Task[None] | None = None

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        return await self._queued(_Piece(work, None, None, self._future()))

    async def run_merged(
        self, merge: Callable[[AsyncSession, list[I]], Awaitable[Sequence[T]]], item: I
    ) -> T:
        return await self._queued(_Piece(None, merge, item, self._future()))

    @staticmethod
    def _future() -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    async def _queued(self, piece: _Piece) -> Any:
        self._queue.append(piece)
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await piece.future

    async def _drain(self) -> None:
        try:
            await asyncio.sleep(0)  # whatever is ready right now joins the first batch
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                await self._commit(batch)
        finally:
            self._task = None

    async def _commit(self, batch: list[_Piece]) -> None:
        try:
            async with self.db.transaction() as session:
                results = await _apply(session, batch)
        except Exception as exc:  # each piece again on its own: the error reaches only its caller
            if len(batch) == 1:
                _settle(batch[0].future, error=exc)
                return
            log.info("a group of %d writes failed; committing them one by one", len(batch))
            for piece in batch:
                try:
                    async with self.db.transaction() as session:
                        result = (await _apply(session, [piece]))[0]
                except Exception as exc:  # handed to the caller of this piece
                    _settle(piece.future, error=exc)
                else:
                    _settle(piece.future, result)
            return
        for piece, result in zip(batch, results, strict=True):
            _settle(piece.future, result)


def _settle(future: asyncio.Future[Any], result: Any = None, *,
            error: BaseException | None = None) -> None:  # fmt: skip
    """Hand the caller its result, unless it stopped waiting (cancelled at shutdown)."""
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


async def _apply(session: AsyncSession, batch: list[_Piece]) -> list[Any]:
    """Run the pieces in queue order; merged ones at their first item's place, all at once."""
    results: list[Any] = [None] * len(batch)
    merged: dict[Merge, list[int]] = {}
    for index, piece in enumerate(batch):
        if piece.merge is not None:
            merged.setdefault(piece.merge, []).append(index)
    done: set[Merge] = set()
    for index, piece in enumerate(batch):
        if piece.work is not None:
            results[index] = await piece.work(session)
        elif piece.merge is not None and piece.merge not in done:
            done.add(piece.merge)
            indexes = merged[piece.merge]
            answers = await piece.merge(session, [batch[i].item for i in indexes])
            for i, answer in zip(indexes, answers, strict=True):
                results[i] = answer
    return results
