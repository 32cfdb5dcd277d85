"""What a report costs at scale: a generated history of N cases (`storage.history`, as
`aftersales demo-data --cases N` makes it), then the report of a month and of a week timed
through the same code as `aftersales report` and /report (`build_report`: both periods' SQL
and the shaping, working hours included).

    python -m bench.report_bench --cases 1000000
        [--database-url postgresql+asyncpg://postgres@127.0.0.1/reports_bench] [--reuse]
        [--runs 3] [--json]

SQLite by default (a file in a temporary folder, or --sqlite FILE to keep it); for PostgreSQL
the database named in --database-url is dropped and created again, unless --reuse finds the
history already there (a million cases take minutes to load). The history spans the two
years up to 3 December 2026; the month is November 2026 (compared with October), the week
23-29 November. Each figure is the median of --runs runs; one run's time per query is given
too, and on PostgreSQL the plan of the heaviest query. The figures are in the README.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
from sqlalchemy import func, select, text

from dialogs.policy import load_policy
from dialogs.reports import Period, build_report
from dialogs.reports.period import bounds
from storage import migrate
from storage.db import Database
from storage.history import load_history
from storage.models import Case
from storage.repos import report_sql
from storage.repos.reports import ReportRepo

NOW = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)
MONTH = Period(date(2026, 11, 1), date(2026, 11, 30))
WEEK = Period(date(2026, 11, 23), date(2026, 11, 29))
TZ = "Asia/Shanghai"
QUERIES = ("_volume", "_rules", "_times", "_clocks", "_refunds", "_ratings", "_dimensions",
           "_agents", "_repeats", "_reused")  # fmt: skip


async def recreate_postgres(url: str) -> None:
    target = Database(url).url
    admin = target.set(drivername="postgresql", database="postgres")
    connection = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{target.database}"')
        await connection.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await connection.close()


async def _cases(db: Database) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(Case)) or 0)


async def _report_seconds(db: Database, period: Period, calendar: Any) -> float:
    started = time.perf_counter()
    async with ReportRepo.reading(db) as repo:  # as `aftersales report` reads
        await build_report(repo, period, TZ, calendar)
    return time.perf_counter() - started


async def _per_query(db: Database) -> dict[str, float]:
    start, end = bounds(MONTH, TZ)
    out = {}
    async with db.read(transaction=True) as s:
        repo = ReportRepo(s)
        if db.is_postgresql:
            await s.execute(text("SET LOCAL jit = off"))  # as report_figures does
        for name in QUERIES:
            query = getattr(repo, name)
            started = time.perf_counter()
            await query(start, end)
            out[name.strip("_")] = round((time.perf_counter() - started) * 1000, 1)
    return out


async def _plan(db: Database) -> str:
    """EXPLAIN ANALYZE of the month's volume (the cube, claims and units sold, ranked)."""
    start, end = bounds(MONTH, TZ)
    sql = "EXPLAIN (ANALYZE, BUFFERS OFF) " + report_sql.volume("postgresql", 10)
    async with db.read(transaction=True) as s:
        await s.execute(text("SET LOCAL jit = off"))
        rows = await s.execute(text(sql), {"start": start, "end": end})
        return "\n".join(r[0] for r in rows)


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = opts.database_url or f"sqlite+aiosqlite:///{opts.sqlite or Path(tmp) / 'r.db'}"
        db = Database(url)
        try:
            load_seconds = None
            if not (opts.reuse and await _cases(db) >= opts.cases):
                await db.dispose()
                if db.is_postgresql:
                    await recreate_postgres(url)
                else:
                    await asyncio.to_thread(Path(str(db.url.database)).unlink, missing_ok=True)
                await asyncio.to_thread(migrate.upgrade, url)
                db = Database(url)
                started = time.perf_counter()
                await load_history(db, opts.cases, NOW)
                load_seconds = round(time.perf_counter() - started, 1)
            calendar = load_policy("standard").calendar
            month = [await _report_seconds(db, MONTH, calendar) for _ in range(opts.runs)]
            week = [await _report_seconds(db, WEEK, calendar) for _ in range(opts.runs)]
            async with db.read() as s:
                in_month = (
                    await build_report(ReportRepo(s, db.read), MONTH, TZ, calendar)
                ).requests
            result: dict[str, Any] = {
                "database": "postgresql" if db.is_postgresql else "sqlite",
                "cases": await _cases(db),
                "requests_in_month": in_month,
                "load_seconds": load_seconds,
                "month_report_seconds": round(statistics.median(month), 3),
                "month_runs": [round(x, 3) for x in month],
                "week_report_seconds": round(statistics.median(week), 3),
                "week_runs": [round(x, 3) for x in week],
                "month_query_ms": await _per_query(db),
            }
            if db.is_postgresql:
                result["plan"] = await _plan(db)
            return result
        finally:
            await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--database-url", help="PostgreSQL (the database is recreated)")
    parser.add_argument("--sqlite", metavar="FILE", help="keep the SQLite file here")
    parser.add_argument("--reuse", action="store_true", help="keep a history already loaded")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    result = asyncio.run(run(opts))
    if opts.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return
    plan = result.pop("plan", None)
    for key, value in result.items():
        print(f"{key:>22}: {value}")
    if plan:
        print(plan)


if __name__ == "__main__":
    main()
