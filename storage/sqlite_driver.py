"""aiosqlite, with each statement run right on the event loop's thread.

SQLAlchemy's aiosqlite adapter sends every step of a statement (open a cursor, execute, fetch,
close) to aiosqlite's thread and waits for the answer: a queue hand-off, a thread switch and a
wake-up of the event loop each time, where sqlite itself needs a few microseconds for the bot's
statements (one-row reads and writes on a local file, by index). Here a statement is run,
drained and closed in one call on the loop's own thread, and what SQLAlchemy asks of it
afterwards (rows, description, rowcount, lastrowid) is kept. Measured on the bot under load
(bench/telegram_bench.py, two copies sharing one core): 2.5-5 % more updates per CPU-second
than one trip to the thread per statement, which in turn was well ahead of four.

What could make sqlite take long stays off the loop:
- COMMIT goes to aiosqlite's thread, as before: it is where a WAL checkpoint runs, with its
  fsync (under load, 5-35 ms every few hundred commits on this machine).
- Waiting for another process's write lock (`aftersales import` running beside the bot): the
  connection's busy timeout is 0, so sqlite answers "busy" at once, and the transaction's first
  statement, which carries its BEGIN and so has nothing of ours open yet, is tried again after
  an asyncio sleep (1 ms, doubling to 50 ms) until `busy_timeout` seconds have passed.

The same driver and SQL otherwise; connecting and closing still happen in aiosqlite's thread.
Server-side cursors, which the bot never asks for, keep SQLAlchemy's own adapter.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import time
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
                outcome = await connection.run(operation, parameters, begin, many)
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
    """Runs statements (`run`) and saves two more steps per transaction.

    `begin(sql)` runs nothing: the BEGIN travels with the transaction's first statement. And
    each statement brings back whether a transaction is open, so the pool's reset (`reset`,
    below) rolls back only when there is something to roll back, where SQLAlchemy would send a
    ROLLBACK after every COMMIT.
    """

    __slots__ = ("busy_timeout", "in_transaction", "pending_begin")
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: aiosqlite.Connection, busy_timeout: float) -> None:
        super().__init__(dbapi, connection)
        self.busy_timeout = busy_timeout
        self.in_transaction = False
        self.pending_begin: str | None = None

    async def run(self, operation: str, parameters: Any, begin: str | None, many: bool) -> Outcome:
        """The statement, on this thread; while another process holds the write lock, waits
        (without holding up the event loop) if nothing of this transaction has run yet."""
        conn = self._connection._conn
        pause, deadline = 0.001, time.monotonic() + self.busy_timeout
        while True:
            try:
                return _run(conn, operation, parameters, begin, many)
            except sqlite3.OperationalError as error:
                retry = _busy(error) and (begin is not None or not conn.in_transaction)
                if not retry or time.monotonic() + pause > deadline:
                    raise
            if conn.in_transaction:  # our BEGIN went through, the statement did not
                conn.rollback()
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)

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


def _busy(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return (code & 0xFF == sqlite3.SQLITE_BUSY) if code is not None else "locked" in str(error)


class OneTripDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def __init__(self, busy_timeout: float) -> None:
        super().__init__(aiosqlite, sqlite3)
        self.busy_timeout = busy_timeout

    def connect(self, *arg: Any, **kw: Any) -> AsyncAdapt_aiosqlite_connection:
        # Statements run on the event loop's thread, not the one that opened the connection.
        kw["check_same_thread"] = False
        adapted = super().connect(*arg, **kw)
        return OneTripConnection(self, adapted._connection, self.busy_timeout)


def dbapi(busy_timeout: float) -> OneTripDBAPI:
    """For `create_async_engine(..., module=dbapi(30.0))` on a sqlite+aiosqlite URL. Connections
    must get `PRAGMA busy_timeout=0`: this module does the waiting (see the docstring)."""
    return OneTripDBAPI(busy_timeout)


def reset(dbapi_connection: Any, _record: Any, state: PoolResetState) -> None:
    """The pool's "reset" event, for engines made with `pool_reset_on_return=None`."""
    if state.terminate_only or not state.asyncio_safe:
        return  # the connection is being thrown away, or may not be touched from here
    if getattr(dbapi_connection, "in_transaction", True):
        dbapi_connection.rollback()
