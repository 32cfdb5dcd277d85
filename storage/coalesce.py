"""Concurrent lookups by key answered by one query.

Each `get(key)` waits for a query that starts after it asked, so the answer is as fresh as a
query of its own; all keys asked while one query runs share the next. Many chats asking at
once (a poll's worth of photos, each asking its conversation) are then one statement on one
connection, where a connection each had opened more than the pool keeps and closed them again
(on PostgreSQL a server process started and its statements prepared anew each time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Coalesced(Generic[K, V]):
    def __init__(self, fetch: Callable[[Sequence[K]], Awaitable[Mapping[K, V]]]) -> None:
        self._fetch = fetch
        self._asked: dict[K, list[asyncio.Future[V | None]]] = {}
        self._task: asyncio.Task[None] | None = None

    async def get(self, key: K) -> V | None:
        """The value for `key` (None when there is none); raises what the query raised."""
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._asked.setdefault(key, []).append(future)
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._asked:
                asked, self._asked = self._asked, {}
                try:
                    found = await self._fetch(list(asked))
                except Exception as exc:  # each caller gets the error, as its own query would
                    _settle(asked, exc=exc)
                    continue
                except BaseException:  # cancelled (shutdown): nobody waits for an answer
                    _settle(asked, cancel=True)
                    _settle(self._asked, cancel=True)
                    raise
                _settle(asked, found=found)
        finally:
            self._task = None


def _settle(
    asked: Mapping[K, list[asyncio.Future[V | None]]], *, found: Mapping[K, V] | None = None,
    exc: Exception | None = None, cancel: bool = False,
) -> None:  # fmt: skip
    for key, futures in asked.items():
        for future in futures:
            if future.done():  # its caller was cancelled meanwhile
                continue
            if cancel:
                future.cancel()
            elif exc is not None:
                future.set_exception(exc)
            else:
                future.set_result((found or {}).get(key))
