"""Group commit: small writes from many callers share a transaction; errors stay their own."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from storage.db import Database
from storage.group import GroupWriter
from storage.models import BlockedChat

NOW = datetime(2026, 11, 26, tzinfo=UTC)


async def test_concurrent_writes_share_commits_and_all_land(db: Database):
    writer = GroupWriter(db)
    commits = 0
    original = db.transaction

    def counting():
        nonlocal commits
        commits += 1
        return original()

    db.transaction = counting  # type: ignore[method-assign]

    async def block(chat_id: int) -> int:
        async def work(session):
            session.add(BlockedChat(chat_id=chat_id, blocked_at=NOW))
            await session.flush()
            return chat_id

        return await writer.run(work)

    assert await asyncio.gather(*(block(n) for n in range(50))) == list(range(50))
    assert commits < 50
    async with original() as session:
        assert await session.scalar(select(func.count()).select_from(BlockedChat)) == 50


async def test_a_failing_write_fails_alone(db: Database):
    writer = GroupWriter(db)

    async def ok(session):
        session.add(BlockedChat(chat_id=1, blocked_at=NOW))
        await session.flush()
        return "ok"

    async def bad(session):
        await session.execute(text("SELECT * FROM no_such_table"))

    results = await asyncio.gather(writer.run(ok), writer.run(bad), return_exceptions=True)
    assert results[0] == "ok" and isinstance(results[1], Exception)
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(BlockedChat)) == 1
    with pytest.raises(Exception, match="no_such_table"):
        await writer.run(bad)


async def test_merged_writes_become_one_call_and_each_caller_gets_its_answer(db: Database):
    writer = GroupWriter(db)
    calls: list[list[int]] = []

    async def block_all(session, chat_ids: list[int]) -> list[str]:
        calls.append(chat_ids)
        session.add_all(BlockedChat(chat_id=c, blocked_at=NOW) for c in chat_ids)
        await session.flush()
        return [f"blocked {c}" for c in chat_ids]

    answers = await asyncio.gather(*(writer.run_merged(block_all, n) for n in range(30)))
    assert answers == [f"blocked {n}" for n in range(30)]
    assert len(calls) < 30 and sorted(c for call in calls for c in call) == list(range(30))
    async with db.transaction() as session:
        assert await session.scalar(select(func.count()).select_from(BlockedChat)) == 30


async def test_a_failing_merged_item_fails_alone(db: Database):
    writer = GroupWriter(db)

    async def block_all(session, chat_ids: list[int]) -> list[int]:
        if 13 in chat_ids:
            raise ValueError("unlucky")
        session.add_all(BlockedChat(chat_id=c, blocked_at=NOW) for c in chat_ids)
        await session.flush()
        return chat_ids

    results = await asyncio.gather(
        *(writer.run_merged(block_all, n) for n in (12, 13, 14)), return_exceptions=True
    )
    assert results[0] == 12 and results[2] == 14 and isinstance(results[1], ValueError)
    async with db.transaction() as session:
        kept = set(await session.scalars(select(BlockedChat.chat_id)))
    assert kept == {12, 14}
