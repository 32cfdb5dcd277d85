"""Run the Alembic migrations programmatically, from any working directory.

Alembic's env.py drives an async engine with `asyncio.run`, which cannot nest inside a running
event loop; called from async code, the work therefore moves to a worker thread with its own loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, pool
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import create_async_engine

from storage.locks import migration_lock
from storage.types import UTCDateTime

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
T = TypeVar("T")


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Render our column types as plain SQLAlchemy types: migrations must not import models."""
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    variants = getattr(obj, "_variant_mapping", None)
    if isinstance(obj, JSON) and variants and "postgresql" in variants:
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'
    return False


# Shared by env.py (autogenerate) and the test that the migrations match the models.
COMPARE_OPTIONS: dict[str, Any] = {
    "compare_type": True,
    "compare_server_default": True,
    "render_item": render_item,
}


def alembic_config(url: str) -> Config:
    config = Config(str(MIGRATIONS_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would choke on '%' in URL-encoded passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def ensure_sqlite_folder(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)


def upgrade(url: str, revision: str = "head") -> None:
    """Safe to run from several processes at once: one migrates, the others wait and find
    nothing left to do (a file lock on SQLite, an advisory lock on PostgreSQL in env.py)."""
    ensure_sqlite_folder(url)
    with migration_lock(url):
        _run(lambda: command.upgrade(alembic_config(url), revision))


def downgrade(url: str, revision: str) -> None:
    _run(lambda: command.downgrade(alembic_config(url), revision))


def current(url: str) -> str | None:
    """The revision the database is at (None if unversioned)."""
    return _run(lambda: asyncio.run(_current(url)))


async def _current(url: str) -> str | None:
    engine = create_async_engine(url, poolclass=pool.NullPool)

    def read(conn: Connection) -> str | None:
        return MigrationContext.configure(conn).get_current_revision()

    try:
        async with engine.connect() as conn:
            return await conn.run_sync(read)
    finally:
        await engine.dispose()


def _run(job: Callable[[], T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return job()
    results: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            results.append(job())
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    # Blocks the caller's loop while migrating; that is start-up or test code, never a handler.
    thread = threading.Thread(target=target, name="alembic")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return results[0]
