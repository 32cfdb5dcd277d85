"""Optimistic locking, case numbers and the SQLite writer queue under concurrency."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from storage.db import Database
from storage.models import Conversation
from storage.repos import CaseRepo, ConversationRepo, ConversationSave, InboxRepo, OutboxRepo
from storage.unit import Conflict, Units
from tests.factories import make_customer, make_order

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def _save(record, state: str) -> ConversationSave:
    return ConversationSave(record.id, record.version, state, {}, "zh", None, "bot", NOW)


async def test_a_stale_conversation_is_not_overwritten(db: Database) -> None:
    """Two writers read one conversation; the second to save loses, and nothing of its unit
    is kept (the caller redoes it on the new state)."""
    units = Units(db, "Asia/Shanghai")
    async with db.transaction() as s:
        await ConversationRepo(s).create(1, 1, "zh", "menu", now=NOW)
    async with db.read() as s:
        mine = await ConversationRepo(s).open_for_chat(1)
    async with units.open(NOW) as unit:
        theirs = (await unit.conversations([1]))[1]
        unit.save(theirs, state="choose_order", context={}, locale="zh", customer_id=None,
                  mode="bot")  # fmt: skip
    with pytest.raises(Conflict):
        async with units.open(NOW) as unit:
            unit.save(mine, state="language", context={}, locale="zh", customer_id=None,
                      mode="bot")  # fmt: skip
            unit.send(1, None, {"kind": "message", "chat_id": 1, "text": "lost"})
    async with db.read() as s:
        assert (await ConversationRepo(s).open_for_chat(1)).state == "choose_order"
        assert await OutboxRepo(s).rows() == []


async def test_concurrent_writers_on_postgres_conflict(db: Database) -> None:
    if not db.is_postgresql:
        pytest.skip("SQLite writers are serialized in-process; no interleaving possible")
    async with db.transaction() as s:
        conv = await ConversationRepo(s).create(1, 1, "zh", "menu", now=NOW)
    a, b = db.sessionmaker(), db.sessionmaker()
    try:
        await a.begin()
        await b.begin()
        await ConversationRepo(a).save_many([_save(conv, "a")])
        await a.commit()
        with pytest.raises(StaleDataError):
            await ConversationRepo(b).save_many([_save(conv, "b")])
    finally:
        await a.close()
        await b.close()


async def _allocate(db: Database, now: datetime) -> str:
    async with db.transaction() as s:
        return await CaseRepo(s).next_case_no(now, "Asia/Shanghai")


async def test_case_numbers_per_shop_day(db: Database) -> None:
    late = datetime(2026, 11, 26, 15, 59, 59, tzinfo=UTC)  # 23:59:59 in Shanghai
    assert await _allocate(db, late) == "AS-20261126-0001"
    assert await _allocate(db, late) == "AS-20261126-0002"
    next_day = late + timedelta(seconds=1)
    assert await _allocate(db, next_day) == "AS-20261127-0001"
    assert await _allocate(db, late) == "AS-20261126-0003"


async def test_a_case_number_does_not_wait_for_another_units_commit(db: Database) -> None:
    """On PostgreSQL a unit of work holds its transaction for a whole batch: another batch
    creating a case gets its number meanwhile instead of waiting for that commit. A unit that
    fails leaves its number unused (a gap), never given twice."""
    if not db.is_postgresql:
        pytest.skip("SQLite has one writer: the unit of work itself takes the number")
    now = datetime(2026, 11, 26, 2, tzinfo=UTC)
    first = db.sessionmaker()
    try:
        await first.begin()
        assert await CaseRepo(first).next_case_no(now, "Asia/Shanghai") == "AS-20261126-0001"
        # The first unit is still open: the second number comes at once.
        second = await asyncio.wait_for(_allocate(db, now), timeout=5)
        assert second == "AS-20261126-0002"
        await first.rollback()
    finally:
        await first.close()
    assert await _allocate(db, now) == "AS-20261126-0003"


async def test_a_session_on_one_connection_takes_its_number_in_that_session(
    db: Database,
) -> None:
    """A caller that binds a session to a connection of its own keeps the number inside its
    transaction (nothing to open beside it): rolled back, the number is free again."""
    now = datetime(2026, 11, 26, 2, tzinfo=UTC)
    async with db.engine.connect() as conn:
        session = AsyncSession(bind=conn)
        assert await CaseRepo(session).next_case_no(now, "Asia/Shanghai") == "AS-20261126-0001"
        await session.rollback()
        await session.close()
    assert await _allocate(db, now) == "AS-20261126-0001"


async def test_concurrent_case_creation_distinct_numbers(db: Database) -> None:
    now = datetime(2026, 11, 26, 2, tzinfo=UTC)
    async with db.transaction() as s:
        c = await make_customer(s)
        o = await make_order(s, c)
    item_id = o.items[0].id

    async def create() -> str:
        async with db.transaction() as s:
            case_id, case_no = await CaseRepo(s).create(
                now=now,
                tz="Asia/Shanghai",
                order_id=o.id,
                item_id=item_id,
                customer_id=c.id,
                service="return",
                reason="no_reason",
                status="submitted",
                outcome="approve",
            )
            await asyncio.sleep(0)  # let others interleave inside the transaction
            view = await CaseRepo(s).view(case_id)
            assert view is not None and view.case_no == case_no
            return case_no

    numbers = await asyncio.gather(*(create() for _ in range(30)))
    assert sorted(numbers) == [f"AS-20261126-{n:04d}" for n in range(1, 31)]


async def test_inbox_dedupes_redeliveries_but_keeps_a_new_update_reusing_an_id(db: Database):
    at = datetime(2026, 11, 26, tzinfo=UTC)
    async with db.transaction() as s:
        repo = InboxRepo(s)
        first = await repo.record(100, "message:9:1", 9, {"update_id": 100}, at)
        assert first is not None
        assert await repo.record(100, "message:9:1", 9, {"update_id": 100}, at) is None
        other = await repo.record(101, "message:9:2", None, {"update_id": 101}, at)
    async with db.transaction() as s:
        repo = InboxRepo(s)
        assert await repo.record(100, "message:9:1", 9, {"update_id": 100}, at) is None
        # Telegram restarted its ids: the same update_id, another message. Kept, in order.
        reused = await repo.record(100, "message:9:7", 9, {"update_id": 100}, at)
        assert reused is not None and reused > other > first
        assert await repo.reused([100, 101]) == {100}
        assert [r.id for r in await repo.pending()] == [first, other, reused]
        await repo.mark_done(first, at)
        await repo.mark_failed(other, "boom", at)
    async with db.transaction() as s:
        repo = InboxRepo(s)
        assert not await repo.is_pending(first)
        assert await repo.is_pending(reused)
        assert not await repo.is_pending(555)
        assert [r.id for r in await repo.pending()] == [reused]
        failed = await repo.get(other)
        assert failed.status == "failed" and failed.error == "boom"


async def test_many_concurrent_read_modify_write_transactions(db: Database) -> None:
    """200 customers at once must not hit 'database is locked' on SQLite."""
    async with db.transaction() as s:
        for chat in range(200):
            await ConversationRepo(s).create(chat, chat, "zh", "menu", {"n": 0}, now=NOW)

    async def step(chat: int) -> None:
        for i in range(3):
            async with db.transaction() as s:
                repo = ConversationRepo(s)
                conv = await repo.open_for_chat(chat)
                await asyncio.sleep(0)
                save = _save(conv, "menu")
                await repo.save_many([replace(save, context={"n": conv.context["n"] + 1})])
                await InboxRepo(s).record(chat * 10 + i, "x", chat, {}, datetime.now(UTC))

    await asyncio.gather(*(step(chat) for chat in range(200)))
    async with db.read() as s:
        rows = (await s.scalars(Conversation.__table__.select())).all()
        assert len(rows) == 200
    async with db.transaction() as s:
        for chat in (0, 199):
            assert (await ConversationRepo(s).open_for_chat(chat)).context == {"n": 3}


async def test_nested_transaction_is_refused_not_deadlocked(db: Database) -> None:
    async with db.transaction():
        with pytest.raises(RuntimeError, match="already open"):
            async with db.transaction():
                pass
    async with db.transaction() as s:  # the guard is released afterwards
        assert await InboxRepo(s).record(1, "x", 1, {}, datetime.now(UTC))


async def test_task_spawned_inside_a_transaction_may_open_its_own(db: Database) -> None:
    async def later() -> int | None:
        async with db.transaction() as s:
            return await InboxRepo(s).record(2, "x", 2, {}, datetime.now(UTC))

    async with db.transaction():
        task = asyncio.create_task(later())
    assert await task


async def test_a_read_takes_no_transaction_unless_asked(db: Database) -> None:
    """A read outside a unit costs no BEGIN and ROLLBACK on PostgreSQL; a reader that sets
    `SET LOCAL` options (the reports) asks for a transaction and keeps them to its end."""
    if not db.is_postgresql:
        pytest.skip("SQLite reads begin a deferred transaction, which costs no round trip")
    local = text("SET LOCAL statement_timeout = '123s'")  # outside a transaction: no effect
    async with db.read() as s:
        await s.execute(local)
        assert await s.scalar(text("SHOW statement_timeout")) != "123s"
    async with db.read(transaction=True) as s:
        await s.execute(local)
        assert await s.scalar(text("SHOW statement_timeout")) == "123s"
