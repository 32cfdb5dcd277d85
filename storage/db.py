"""Engine, sessions and the unit of work (`Database.transaction`)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_driver
from storage.models import Base

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Connections the pool keeps open, and how many more it opens for a burst (closed after it).
# SQLAlchemy's default keeps 5: under load the bot holds more at once (units, the outbox's
# reads and marks, the intake), and on PostgreSQL each one over 5 was a server process
# started and stopped per burst, with its start-up queries (bench/telegram_bench.py).
POOL_SIZE = 15
POOL_OVERFLOW = 5
# asyncpg's prepared statements kept per connection (SQLAlchemy's default 100): a statement
# not among them is a Parse round trip before it runs. The bot has well over 100 texts (each
# report, desk and lifecycle query), so at 100 the ones a turn runs were pushed out by rarer
# ones; a DATABASE_URL's own ?prepared_statement_cache_size= is kept.
STATEMENT_CACHE = 500
# The task inside transaction(): nesting in the same task would deadlock on SQLite's writer
# lock. Tasks spawned meanwhile inherit the variable but are other tasks, so they may wait.
_owner: ContextVar[asyncio.Task[Any] | None] = ContextVar("transaction_owner", default=None)


class Database:
    """One per process. Repositories get the session; only `transaction()` commits."""

    def __init__(self, url: str, *, echo: bool = False, **engine_kwargs: Any) -> None:
        self.url = make_url(url)
        one_trip = self.url.drivername == "sqlite+aiosqlite" and "module" not in engine_kwargs
        if one_trip:  # see storage/sqlite_driver.py
            engine_kwargs.update(
                module=sqlite_driver.dbapi(SQLITE_BUSY_TIMEOUT_MS / 1000),
                pool_reset_on_return=None,
            )
        if self.url.drivername == "postgresql+asyncpg":
            statements = {"prepared_statement_cache_size": STATEMENT_CACHE}
            if "prepared_statement_cache_size" not in self.url.query:
                engine_kwargs["connect_args"] = statements | engine_kwargs.get("connect_args", {})
        engine_kwargs.setdefault("pool_size", POOL_SIZE)
        engine_kwargs.setdefault("max_overflow", POOL_OVERFLOW)
        self.engine: AsyncEngine = create_async_engine(self.url, echo=echo, **engine_kwargs)
        if one_trip:
            event.listen(self.engine.sync_engine.pool, "reset", sqlite_driver.reset)
        # expire_on_commit=False: objects stay readable after commit without async lazy loads.
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )
        # SQLite has a single writer: a deferred transaction that later writes can fail with
        # "database is locked" instead of waiting, so writers queue here and BEGIN IMMEDIATE.
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self.is_sqlite else None
        if self.is_sqlite:
            _configure_sqlite(self.engine)
        if self.is_postgresql:
            event.listen(self.engine.sync_engine, "handle_error", _left_by_the_server)

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: commit on success, roll back on any error.

        One unit of work per task: opening another transaction() inside one raises
        RuntimeError (on SQLite it would wait for itself forever).
        """
        task = asyncio.current_task()
        if task is not None and _owner.get() is task:
            raise RuntimeError("transaction() is already open in this task")
        lock: AbstractAsyncContextManager[Any] = self._write_lock or nullcontext()
        token = _owner.set(task)
        try:
            async with lock, self.sessionmaker() as session, session.begin():
                yield session
        finally:
            _owner.reset(token)

    def read_options(self, *, transaction: bool = False) -> dict[str, str]:
        """Execution options of a read outside any unit of work. SQLite: a deferred BEGIN, so
        that it does not queue behind writers (WAL allows that). PostgreSQL: autocommit unless
        `transaction` (a reader that sets `SET LOCAL` options): it saves the BEGIN's and the
        ROLLBACK's round trips and changes nothing else, since under READ COMMITTED every
        statement takes its own snapshot, in a transaction or not."""
        if self.is_sqlite:
            return {"sqlite_begin": "DEFERRED"}
        return {} if transaction else {"isolation_level": "AUTOCOMMIT"}

    @asynccontextmanager
    async def read(self, *, transaction: bool = False) -> AsyncIterator[AsyncSession]:
        """A read-only session (`read_options`)."""
        async with self.sessionmaker() as session:
            await session.connection(execution_options=self.read_options(transaction=transaction))
            try:
                yield session
            finally:
                await session.rollback()

    async def create_all(self) -> None:
        """Schema without migrations, for tests. Deployments use `storage.migrate.upgrade`."""
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)

    async def drop_all(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)

    async def dispose(self) -> None:
        await self.engine.dispose()


SQLITE_HEAP_LIMIT = 8 * 1024 * 1024  # bytes of memory SQLite keeps in this process (soft)


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN away from the driver so we can choose IMMEDIATE ourselves.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # The one-statement driver waits for locks itself, off sqlite, so the loop runs on.
        one_trip = isinstance(dbapi_connection, sqlite_driver.OneTripConnection)
        cursor.execute(f"PRAGMA busy_timeout={0 if one_trip else SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Each connection caches up to 2 MB of pages, and the pool holds up to 20: on a large
        # database that is 40 MB more than on a small one. The limit is the process's, over
        # all connections: SQLite reuses cached pages instead of growing past it.
        cursor.execute(f"PRAGMA soft_heap_limit={SQLITE_HEAP_LIMIT}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        raw = conn.connection.dbapi_connection
        if isinstance(raw, sqlite_driver.OneTripConnection):
            raw.begin(f"BEGIN {mode}")  # sent with the first statement
        else:
            conn.exec_driver_sql(f"BEGIN {mode}")


def _left_by_the_server(context: ExceptionContext) -> None:
    """Count asyncpg's "cannot switch to state …; another operation (2) is in progress" as a
    lost connection. A server that shuts down sends its goodbye to idle connections too; one
    that sat in the pool then waits for an end that never comes, and its next statement fails
    so. SQLAlchemy took that for a bad statement: the dead connection went back to the pool
    and a restart's write was given up instead of being waited out (`is_outage`)."""
    error = context.original_exception
    if type(error).__name__ == "InternalClientError" and "cannot switch to state" in str(error):
        context.is_disconnect = True


_T = TypeVar("_T")


async def outlasting_outages(step: Callable[[], Awaitable[_T]], seconds: float,
                             pause: float) -> _T:  # fmt: skip
    """Run `step`, again every `pause` seconds while the database is away (`is_outage`), for
    up to `seconds`; any other error, or the outage lasting longer, is raised."""
    give_up = asyncio.get_running_loop().time() + seconds
    while True:
        try:
            return await step()
        except Exception as exc:
            if not is_outage(exc) or asyncio.get_running_loop().time() >= give_up:
                raise
            await asyncio.sleep(pause)


def is_outage(exc: BaseException) -> bool:
    """The database could not be reached or went away (a restart, a dropped connection), as
    opposed to a statement that failed: what is worth waiting out and doing again."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    seen: BaseException | None = exc
    for _ in range(8):  # the driver's error is a few causes down
        if seen is None:
            return False
        if isinstance(seen, sqlite3.OperationalError):
            return "locked" in str(seen)
        if isinstance(seen, ConnectionError | OSError | TimeoutError):
            return True
        names = {t.__name__ for t in type(seen).__mro__}
        if _OUTAGES & names or ("InterfaceError" in names and "closed" in str(seen)):
            return True
        seen = getattr(seen, "orig", None) or seen.__cause__
    return False


# asyncpg's names for "no server to talk to": connection errors (SQLSTATE class 08), the
# server shutting down or starting up (57P01-57P03), a connection that closed under us.
_OUTAGES = {
    "PostgresConnectionError",
    "OperatorInterventionError",
    "ConnectionDoesNotExistError",
    "InternalClientError",
    "CannotConnectNowError",
    "AdminShutdownError",
}
