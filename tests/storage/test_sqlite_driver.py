"""The one-statement aiosqlite adapter behaves like SQLAlchemy's own (rows, counts, ids,
errors) and never holds up the event loop waiting for another process's lock."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from storage.db import Database


@pytest.fixture
async def sqlite(tmp_path) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    async with db.transaction() as s:
        await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    yield db
    await db.dispose()


async def test_rows_counts_and_ids_come_back(sqlite: Database):
    async with sqlite.transaction() as s:
        inserted = await s.execute(text("INSERT INTO t (v) VALUES ('a')"))
        assert inserted.lastrowid == 1
        many = await s.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": c} for c in "bcd"])
        assert many.rowcount == 3  # summed over the executemany
        changed = await s.execute(text("UPDATE t SET v = v || '!' WHERE id > 2"))
        assert changed.rowcount == 2
        returned = await s.execute(text("UPDATE t SET v = upper(v) WHERE id <= 2 RETURNING id"))
        assert sorted(r[0] for r in returned) == [1, 2]
        rows = (await s.execute(text("SELECT id, v FROM t ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [(1, "A"), (2, "B"), (3, "c!"), (4, "d!")]
        assert (await s.execute(text("SELECT v FROM t WHERE id = 9"))).first() is None


async def test_errors_are_sqlalchemys_and_roll_back(sqlite: Database):
    with pytest.raises(IntegrityError):
        async with sqlite.transaction() as s:
            await s.execute(text("INSERT INTO t (v) VALUES ('x')"))
            await s.execute(text("INSERT INTO t (v) VALUES ('x')"))
    async with sqlite.read() as s:
        assert (await s.execute(text("SELECT count(*) FROM t"))).scalar() == 0


async def test_a_connection_given_back_inside_a_transaction_is_rolled_back(sqlite: Database):
    from sqlalchemy.util import greenlet_spawn

    raw = await sqlite.engine.raw_connection()

    def write_and_give_back() -> bool:
        cursor = raw.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute("INSERT INTO t (v) VALUES ('lost')")
        open_then = raw.dbapi_connection.in_transaction
        raw.close()  # back to the pool without COMMIT or ROLLBACK
        return open_then

    assert await greenlet_spawn(write_and_give_back)
    async with sqlite.transaction() as s:  # would fail "within a transaction" if left open
        assert (await s.execute(text("SELECT count(*) FROM t"))).scalar() == 0


async def test_the_write_lock_is_taken_with_the_first_statement(sqlite: Database, tmp_path):
    import sqlite3

    other = sqlite3.connect(tmp_path / "driver.db", timeout=0)
    try:
        async with sqlite.transaction() as s:
            await s.execute(text("SELECT count(*) FROM t"))  # BEGIN IMMEDIATE went with it
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        other.execute("BEGIN IMMEDIATE")  # free again after the commit
        other.rollback()
    finally:
        other.close()


async def test_a_failed_first_statement_does_not_leave_its_begin_open(sqlite: Database):
    from sqlalchemy.util import greenlet_spawn

    async with sqlite.transaction() as s:
        await s.execute(text("INSERT INTO t (v) VALUES ('taken')"))
    raw = await sqlite.engine.raw_connection()

    def fail_then_give_back() -> None:
        raw.dbapi_connection.begin("BEGIN IMMEDIATE")  # goes with the next statement
        with pytest.raises(Exception, match="UNIQUE"):
            raw.cursor().execute("INSERT INTO t (v) VALUES ('taken')")
        raw.close()

    await greenlet_spawn(fail_then_give_back)
    async with sqlite.transaction() as s:  # would fail "within a transaction" if left open
        await s.execute(text("INSERT INTO t (v) VALUES ('free')"))
    async with sqlite.read() as s:
        assert (await s.execute(text("SELECT count(*) FROM t"))).scalar() == 2


async def test_waiting_for_another_writer_does_not_stop_the_event_loop(sqlite: Database, tmp_path):
    import sqlite3

    other = sqlite3.connect(tmp_path / "driver.db", timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # e.g. `aftersales import` in another process

    async def write() -> None:
        async with sqlite.transaction() as s:
            await s.execute(text("INSERT INTO t (v) VALUES ('after the import')"))

    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    writer = asyncio.create_task(write())
    try:
        await asyncio.sleep(0.3)
        assert not writer.done()  # it waits for the lock ...
        assert ticks >= 10  # ... and everything else goes on meanwhile
        other.execute("COMMIT")
        await asyncio.wait_for(writer, 5)
    finally:
        ticker.cancel()
        other.close()
    async with sqlite.read() as s:
        assert (await s.execute(text("SELECT v FROM t"))).scalars().all() == ["after the import"]


async def test_a_lock_held_past_the_busy_timeout_fails_the_transaction(tmp_path, monkeypatch):
    import sqlite3

    import storage.db

    monkeypatch.setattr(storage.db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'held.db'}")
    async with db.transaction() as s:
        await s.execute(text("CREATE TABLE t (v TEXT)"))
    other = sqlite3.connect(tmp_path / "held.db", timeout=0, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(OperationalError, match="locked"):
            async with db.transaction() as s:
                await s.execute(text("INSERT INTO t VALUES ('x')"))
        assert 0.15 < asyncio.get_running_loop().time() - started < 2
    finally:
        other.close()
    async with db.transaction() as s:  # the connection is usable again once the lock is free
        await s.execute(text("INSERT INTO t VALUES ('y')"))
    await db.dispose()
