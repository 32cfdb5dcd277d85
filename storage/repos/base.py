"""Shared helpers for repositories."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


class Repo:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session


def dialect_insert(session: AsyncSession, table: Any) -> Any:
    """`INSERT` with `ON CONFLICT` support for whichever backend the session is bound to."""
    return insert_on(on_postgresql(session), table)


def insert_on(postgres: bool, table: Any) -> Any:
    """`INSERT` with `ON CONFLICT` support for PostgreSQL or SQLite (for statements built
    once per backend)."""
    return postgresql.insert(table) if postgres else sqlite.insert(table)


def on_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def one_of(column: Any, name: str, *, array: bool) -> ColumnElement[bool]:
    """`column IN (the list bound as name)`. With `array` (PostgreSQL) it is `= ANY(:name)`,
    one array parameter: the statement's text is then the same however many values come, so
    asyncpg prepares it once per connection, where an expanding IN is a new statement (a
    Parse round trip, and a place in a cache of 100) for every length of list."""
    if array:
        return column == any_(bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(name, expanding=True))
