"""Millions of rows in, for generated histories (storage/history.py) and benchmarks only.

SQLAlchemy's executemany passes every value through its type processors: right for the bot's
few rows a statement, but about 150 µs a row here, hours for a million cases. These rows go in
by the drivers themselves instead: PostgreSQL's COPY (asyncpg), and sqlite3's executemany in a
thread; values are stored exactly as the models' types store them (UTC instants, naive UTC
text on SQLite; money as numbers; JSON as text), and the columns a row leaves out get the
models' own defaults.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import asyncpg
from sqlalchemy import JSON, Column, Numeric, Table

from storage.db import Database
from storage.types import JSONValue, UTCDateTime


def _defaults(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    full = dict(row)
    for column in table.columns:
        if column.name in full or column.default is None:
            continue
        arg = column.default.arg  # type: ignore[attr-defined]
        full[column.name] = arg(None) if callable(arg) else arg
    return full


def _sqlite_time(value: datetime) -> str:
    # SQLAlchemy's DATETIME text on SQLite ("2026-11-02 02:00:00.000000"): lexical order is time
    # order, so it must match to the character.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _converter(column: Column[Any], sqlite: bool) -> Callable[[Any], Any] | None:
    """How one column's values are stored (None: as they are), chosen once per column."""
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return _sqlite_time if sqlite else _utc
    if isinstance(kind, JSONValue | JSON):
        return _json
    if isinstance(kind, Numeric) and sqlite:
        return float
    return None


async def insert_rows(db: Database, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert `rows` (column name -> value, the same names in each) into `table`."""
    if not rows:
        return
    first = _defaults(table, rows[0])
    columns = list(first)
    missing = {c: first[c] for c in columns if c not in rows[0]}
    sqlite = db.is_sqlite
    convert = [_converter(table.columns[c], sqlite) for c in columns]
    records = []
    for row in rows:
        values = []
        for name, conv in zip(columns, convert, strict=True):
            value = row[name] if name in row else missing[name]
            values.append(value if conv is None or value is None else conv(value))
        records.append(tuple(values))
    if sqlite:
        await asyncio.to_thread(_sqlite_insert, str(db.url.database), table.name, columns, records)
    else:
        await _copy(db, table.name, columns, records)


def _sqlite_insert(
    path: str, table: str, columns: list[str], records: list[tuple[Any, ...]]
) -> None:
    names = ", ".join(columns)
    marks = ", ".join("?" for _ in columns)
    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute("PRAGMA synchronous = OFF")  # a generated history: redo, not recover
        with connection:
            connection.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", records)
    finally:
        connection.close()


async def _copy(
    db: Database, table: str, columns: list[str], records: list[tuple[Any, ...]]
) -> None:
    url = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(url)
    try:
        await connection.copy_records_to_table(table, records=records, columns=columns)
    finally:
        await connection.close()


async def analyze(db: Database) -> None:
    """Fresh planner statistics after a bulk load; on PostgreSQL the tables vacuumed as well,
    as autovacuum would do soon after: the visibility map it sets is what lets the report
    read units sold from indexes alone (migration 0011), as it does on a shop's history."""
    if db.is_sqlite:
        await asyncio.to_thread(_sqlite_analyze, str(db.url.database))
        return
    url = db.url.set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(url)
    try:
        await connection.execute("VACUUM (ANALYZE)")
    finally:
        await connection.close()


def _sqlite_analyze(path: str) -> None:
    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute("ANALYZE")
        connection.commit()
    finally:
        connection.close()
