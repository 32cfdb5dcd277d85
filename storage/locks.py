"""File and advisory locks: one bot per SQLite file, one migration at a time.

SQLite has a single writer and the bot keeps its write queue in memory, so two bots on one file
would each think they own it. `hold_instance_lock` takes an exclusive lock on `<file>.lock` for
as long as the bot runs; the operating system lets it go when the process ends, SIGKILL
included, so a crash never leaves a stale lock behind. Migrations take their own lock (two
first starts on an empty file must not both create the tables).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

try:
    import fcntl
except ImportError:  # Windows: no flock; one bot per file is then the operator's to keep
    fcntl = None  # type: ignore[assignment]

# Any fixed number: PostgreSQL advisory locks are named by a 64-bit key.
MIGRATION_LOCK_KEY = 0x61667473616C6573  # "aftsales"


class AlreadyRunning(Exception):
    """Another process holds the bot's lock on this SQLite file."""

    def __init__(self, database: Path, holder: str) -> None:
        super().__init__(str(database))
        self.database = database
        self.holder = holder


def sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL (None: not SQLite, or in memory)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database).expanduser().resolve()


@contextlib.contextmanager
def hold_instance_lock(url: str) -> Iterator[None]:
    """Exclusive for the bot's lifetime on a SQLite file; AlreadyRunning if another has it."""
    database = sqlite_file(url)
    if database is None or fcntl is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    path = database.with_name(database.name + ".lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise AlreadyRunning(database, holder) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def migration_lock(url: str) -> Iterator[None]:
    """Waits for any other migration of the same SQLite file (PostgreSQL: see env.py)."""
    database = sqlite_file(url)
    if database is None or fcntl is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(database.with_name(database.name + ".migrate.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
