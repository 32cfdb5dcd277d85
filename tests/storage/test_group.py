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
