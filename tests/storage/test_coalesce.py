"""Concurrent lookups answered by one query, each as fresh as a query of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from storage.coalesce import Coalesced


class Table:
    """A stand-in for a table: rows change, each query is recorded."""

    def __init__(self) -> None:
        self.rows = {1: "a", 2: "b", 3: "c"}
        self.queries: list[list[int]] = []
        self.gate: asyncio.Event | None = None
        self.fail: Exception | None = None

    async def fetch(self, keys: Sequence[int]) -> dict[int, str]:
        self.queries.append(sorted(keys))
        snapshot = {k: self.rows[k] for k in keys if k in self.rows}  # read when it starts
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return snapshot


async def test_lookups_asked_at_once_share_one_query() -> None:
    table = Table()
    lookups = Coalesced(table.fetch)
    got = await asyncio.gather(*(lookups.get(k) for k in (1, 2, 2, 3, 9)))
    assert got == ["a", "b", "b", "c", None]
    assert table.queries == [[1, 2, 3, 9]]


async def test_a_lookup_asked_while_a_query_runs_waits_for_a_fresh_one() -> None:
    table = Table()
    table.gate = asyncio.Event()
    lookups = Coalesced(table.fetch)
    first = asyncio.create_task(lookups.get(1))
    await asyncio.sleep(0.01)  # the first query has read the row and is still running
    table.rows[1] = "changed"
    second = asyncio.create_task(lookups.get(1))
    await asyncio.sleep(0.01)
    table.gate.set()
    assert (await first, await second) == ("a", "changed")
    assert table.queries == [[1], [1]]


async def test_a_failed_query_reaches_each_caller_and_the_next_lookup_works() -> None:
    table = Table()
    table.fail = ConnectionError("server gone")
    lookups = Coalesced(table.fetch)
    results = await asyncio.gather(lookups.get(1), lookups.get(2), return_exceptions=True)
    assert [type(r) for r in results] == [ConnectionError, ConnectionError]
    table.fail = None
    assert await lookups.get(2) == "b"


async def test_a_caller_that_gives_up_leaves_the_others_their_answer() -> None:
    table = Table()
    table.gate = asyncio.Event()
    lookups = Coalesced(table.fetch)
    impatient = asyncio.create_task(lookups.get(1))
    patient = asyncio.create_task(lookups.get(1))
    await asyncio.sleep(0.01)
    impatient.cancel()
    table.gate.set()
    assert await patient == "a"
    with pytest.raises(asyncio.CancelledError):
        await impatient
