"""A database that goes away is an outage (waited out, done again), not a failed statement."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from storage.db import Database, is_outage


async def test_a_connection_the_server_left_in_the_pool_is_an_outage_and_dropped(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restarting PostgreSQL says goodbye to idle pooled connections too; asyncpg's next
    statement on one fails with "cannot switch to state …". That is the server gone: the
    write is waited out like any outage, and the connection is not handed out again."""
    if not db.is_postgresql:
        pytest.skip("asyncpg's error; SQLite has no server to go away")
    from asyncpg.connection import Connection
    from asyncpg.exceptions import InternalClientError

    async with db.read() as s:
        before = await s.scalar(text("SELECT pg_backend_pid()"))
    execute = Connection.execute
    calls = 0

    async def left(self: Connection, query: str, *args: object, **kwargs: object) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:  # the BEGIN of the next unit of work, as in a chaos run's log
            raise InternalClientError(
                "cannot switch to state 15; another operation (2) is in progress"
            )
        return await execute(self, query, *args, **kwargs)

    monkeypatch.setattr(Connection, "execute", left)
    with pytest.raises(DBAPIError) as raised:
        async with db.transaction() as s:
            await s.execute(text("SELECT 1"))
    assert is_outage(raised.value)
    monkeypatch.undo()
    async with db.transaction() as s:  # a new connection, not the one left behind
        assert await s.scalar(text("SELECT pg_backend_pid()")) != before
