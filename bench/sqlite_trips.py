"""What the SQLite driver (`storage/sqlite_driver.py`) saves: hand-offs to aiosqlite's thread
and time per small transaction, against aiosqlite as SQLAlchemy ships it.

    python -m bench.sqlite_trips [--transactions 2000]

A transaction here is what a turn's smallest unit looks like: BEGIN IMMEDIATE, one SELECT, one
INSERT, COMMIT. (These were tests once; they measure the implementation, so they live here.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import text
from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi

from storage.db import Database


async def measure(driver: str, transactions: int) -> dict[str, Any]:
    trips: list[str] = []
    original = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        trips.append(getattr(fn, "__name__", "?"))
        return await original(self, fn, *args, **kwargs)

    aiosqlite.Connection._execute = counted  # type: ignore[method-assign]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'b.db'}"
            kwargs: dict[str, Any] = {}
            if driver == "aiosqlite":
                kwargs["module"] = AsyncAdapt_aiosqlite_dbapi(aiosqlite, sqlite3)
            db = Database(url, **kwargs)
            async with db.transaction() as s:
                await s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
            trips.clear()
            started = time.perf_counter()
            for n in range(transactions):
                async with db.transaction() as s:
                    await s.execute(text("SELECT count(*) FROM t"))
                    await s.execute(text("INSERT INTO t (v) VALUES (:v)"), {"v": str(n)})
            elapsed = time.perf_counter() - started
            await db.dispose()
    finally:
        aiosqlite.Connection._execute = original  # type: ignore[method-assign]
    return {
        "driver": driver,
        "thread_trips_per_transaction": round(len(trips) / transactions, 2),
        "microseconds_per_transaction": round(elapsed / transactions * 1e6),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--transactions", type=int, default=2000)
    args = parser.parse_args()
    results = [asyncio.run(measure(d, args.transactions)) for d in ("one-trip", "aiosqlite")]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
