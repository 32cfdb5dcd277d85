"""aiosqlite with one thread round trip per statement.

SQLAlchemy's aiosqlite adapter makes four trips to aiosqlite's thread for each statement
(open a cursor, execute, fetch, close), each a queue hand-off, a wake-up of the event loop and a
greenlet switch. On this machine that made a one-row SELECT cost about 400 µs where sqlite itself
needs 5. Here the whole statement runs in the thread in one trip: a cursor is opened, executed,
drained and closed there, and what SQLAlchemy asks of it afterwards (rows, description, rowcount,
lastrowid) is kept. Same driver, same thread, same SQL; only fewer trips. Server-side cursors,
which the bot never asks for, keep SQLAlchemy's own adapter.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any, cast

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.pool import PoolResetState

# description, rows, rowcount, lastrowid, and whether a transaction is open afterwards
Outcome = tuple[Any, list[Any], int, int | None, bool]


def _run(
    conn: sqlite3.Connection, operation: str, parameters: Any, begin: str | None, many: bool
) -> Outcome:
    """In aiosqlite's thread: the statement from start to end (after BEGIN, if one is due);
    `many`: `parameters` is a sequence of parameter sets (executemany)."""
    if begin is not None:
        conn.execute(begin)
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, () if parameters is None else parameters)
        description = cursor.description
        rows = cursor.fetchall() if description and not many else []
        return description, rows, cursor.rowcount, cursor.lastrowid, conn.in_transaction
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    __slots__ = ("_description", "_lastrowid", "_rowcount", "arraysize")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        # No cursor is opened here (that would be a trip of its own): see _run.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self.arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]

    async def _async_soft_close(self) -> None:
        return None  # the sqlite cursor was closed in its thread already

    def close(self) -> None:
        self._rows.clear()

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        await self._trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        await self._trip(operation, seq_of_parameters, many=True)

    async def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection = cast(OneTripConnection, self._adapt_connection)
        begin, connection.pending_begin = connection.pending_begin, None
        async with connection._execute_mutex:
            try:
                outcome = await self._connection._execute(
                    _run, self._connection._conn, operation, parameters, begin, many
                )
            except BaseException:
                # Whether the BEGIN (or an earlier one) left a transaction open is unknown now:
                # say it is, so that the pool's reset rolls back rather than hand it on.
                connection.in_transaction = True
                raise
            self._keep(outcome)

    def _keep(self, outcome: Outcome) -> None:
        self._description, rows, self._rowcount, self._lastrowid, in_transaction = outcome
        self._rows = collections.deque(rows)
        cast(OneTripConnection, self._adapt_connection).in_transaction = in_transaction


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """Saves two more trips per transaction.

    `begin(sql)` does not go to the thread: the BEGIN travels with the transaction's first
    statement. And each statement's trip brings back whether a transaction is open, so the
    pool's reset (`reset`, below) rolls back only when there is something to roll back, where
    SQLAlchemy would spend a trip on a ROLLBACK after every COMMIT.
    """

    __slots__ = ("in_transaction", "pending_begin")
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: aiosqlite.Connection) -> None:
        super().__init__(dbapi, connection)
        self.in_transaction = False
        self.pending_begin: str | None = None

    def begin(self, sql: str) -> None:
        self.pending_begin = sql

    def commit(self) -> None:
        if self.pending_begin is not None:  # nothing was run: nothing to commit
            self.pending_begin = None
            return
        super().commit()
        self.in_transaction = False

    def rollback(self) -> None:
        self.pending_begin = None
        super().rollback()
        self.in_transaction = False


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection)


def dbapi() -> OneTripDBAPI:
    """For `create_async_engine(..., module=dbapi())` on a sqlite+aiosqlite URL."""
    return OneTripDBAPI(aiosqlite, sqlite3)


def reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """The pool's "reset" event, for engines made with `pool_reset_on_return=None`."""
    if state.terminate_only or not state.asyncio_safe:
        return  # the connection is being thrown away, or may not be touched from here
    if getattr(dbapi_connection, "in_transaction", True):
        dbapi_connection.rollback()
