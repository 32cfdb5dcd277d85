"""Shared fixtures: a database per test, on SQLite always and on PostgreSQL when
TEST_DATABASE_URL is set (tests run sequentially there; each starts from an empty schema)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database

PG_URL = os.environ.get("TEST_DATABASE_URL")
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


async def reset_postgres_schema(url: str) -> None:
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database's URL (no tables)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"
    assert PG_URL is not None
    await reset_postgres_schema(PG_URL)
    return PG_URL


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A `Database` with the schema from the models (`create_all`, faster than migrations)."""
    database = Database(database_url)
    await database.create_all()
    try:
        yield database
    finally:
        await database.dispose()
