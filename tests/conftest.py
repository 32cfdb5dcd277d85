"""Shared fixtures: a database per test, on SQLite always and on PostgreSQL when
TEST_DATABASE_URL is set (each test starts from an empty schema; with pytest-xdist each worker
has a database of its own, `<name>_gw0`, `<name>_gw1`, …, made on first use)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from storage.db import Database


def _worker_database(url: str | None) -> str | None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not url or not worker:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{worker}").render_as_string(hide_password=False)


BASE_PG_URL = os.environ.get("TEST_DATABASE_URL")
PG_URL = _worker_database(BASE_PG_URL)
BACKENDS = ["sqlite", *(["postgresql"] if PG_URL else [])]


async def _create_database(url: str) -> None:
    assert BASE_PG_URL is not None
    engine = create_async_engine(BASE_PG_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{make_url(url).database}"'))
    finally:
        await engine.dispose()


async def reset_postgres_schema(url: str) -> None:
    if url != BASE_PG_URL:
        probe = create_async_engine(url)
        try:
            async with probe.connect():
                pass
        except Exception:  # not made yet: this worker's first PostgreSQL test
            await _create_database(url)
        finally:
            await probe.dispose()
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
