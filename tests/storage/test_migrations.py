"""Migrations: the stairway (up, down, up) and the initial revision matching the models."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from storage import migrate
from storage.models import Base


async def _inspect(url: str, fn: Any) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) - {"alembic_version"}


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn,
        opts=dict(migrate.COMPARE_OPTIONS),
    )
    return compare_metadata(context, Base.metadata)


async def test_stairway_every_revision(database_url: str) -> None:
    """Each revision goes up, down and up again, so every downgrade is exercised."""
    script = ScriptDirectory.from_config(migrate.alembic_config(database_url))
    for revision in reversed(list(script.walk_revisions())):
        migrate.upgrade(database_url, revision.revision)
        down = revision.down_revision
        migrate.downgrade(database_url, down if isinstance(down, str) else "base")
        migrate.upgrade(database_url, revision.revision)
    assert migrate.current(database_url) == script.get_current_head()


async def test_upgrade_downgrade_base_upgrade(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert migrate.current(database_url) == _head(database_url)
    assert await _inspect(database_url, _tables) == set(Base.metadata.tables)
    migrate.downgrade(database_url, "base")
    assert await _inspect(database_url, _tables) == set()
    assert migrate.current(database_url) is None
    migrate.upgrade(database_url)
    assert await _inspect(database_url, _tables) == set(Base.metadata.tables)


async def test_migrations_match_models(database_url: str) -> None:
    migrate.upgrade(database_url)
    assert await _inspect(database_url, _diff) == []


def test_upgrade_outside_event_loop(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sub' / 'dir' / 'x.db'}"
    migrate.upgrade(url)
    assert migrate.current(url) == _head(url)


def _head(url: str) -> str | None:
    return ScriptDirectory.from_config(migrate.alembic_config(url)).get_current_head()


async def test_inbox_rows_keep_their_identity_across_the_upgrade(database_url: str) -> None:
    """Rows stored before update ids became ambiguous: a redelivery of one is still a
    duplicate after the upgrade, and pending rows stay pending."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from bot.update_shape import identity
    from storage.db import Database
    from storage.repos import InboxRepo

    migrate.upgrade(database_url, "0002")
    update = {"update_id": 77, "message": {"message_id": 5, "date": 0, "text": "hi",
                                           "chat": {"id": 9, "type": "private"}}}  # fmt: skip
    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        inbox = sa_table("inbox", "update_id", "chat_id", "payload", "status", "received_at")
        await conn.execute(inbox.insert().values(update_id=77, chat_id=9, payload=update,
                                                 status="pending",
                                                 received_at=datetime.now(UTC)))  # fmt: skip
    await engine.dispose()
    migrate.upgrade(database_url)
    db = Database(database_url)
    try:
        async with db.transaction() as s:
            repo = InboxRepo(s)
            assert await repo.record(77, identity(update), 9, update, datetime.now(UTC)) is None
            [row] = await repo.pending()
            assert (row.update_id, row.identity, row.payload) == (77, "message:9:5", update)
            assert (await s.execute(text("SELECT COUNT(*) FROM inbox"))).scalar() == 1
    finally:
        await db.dispose()


def sa_table(name: str, *columns: str) -> Any:
    import sqlalchemy as sa

    from storage.types import JSONType, UTCDateTime

    types = {"payload": JSONType, "received_at": UTCDateTime(), "status": sa.String()}
    return sa.Table(name, sa.MetaData(),
                    *(sa.Column(c, types.get(c, sa.BigInteger())) for c in columns))  # fmt: skip


async def test_the_rate_buckets_are_unlogged_on_postgresql(database_url: str) -> None:
    """A booking's commit waits for no disk flush (bot/shared_limits.py)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no unlogged tables and shares no buckets between workers")
    migrate.upgrade(database_url)

    def persistence(conn: Connection) -> str:
        return conn.exec_driver_sql(
            "SELECT relpersistence::text FROM pg_class WHERE relname = 'rate_slots'"
        ).scalar_one()

    assert await _inspect(database_url, persistence) == "u"
