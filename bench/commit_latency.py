"""How long a PostgreSQL commit waits for the server's log flush on this machine, bot aside.

    .venv/bin/python -m bench.commit_latency [--database-url URL] [--seconds 60] [--rate 45]

One connection (asyncpg, no SQLAlchemy, no bot) inserts one row and commits, `--rate` times a
second, into a scratch table it drops afterwards. Each commit waits for PostgreSQL to flush
its write-ahead log to disk (`synchronous_commit = on`, the default and the bot's setting: a
committed update is never lost). What it measures is the disk's flush latency as the database
server sees it: the floor under every unit of work, and the cause of any reply held up at a
COMMIT in `bench.latency_bench --probe` (its "commit" pauses).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from typing import Any

import asyncpg

from bench.machine import describe

TABLE = "bench_commit_latency"


async def run(url: str, seconds: float, rate: float) -> dict[str, Any]:
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f"DROP TABLE IF EXISTS {TABLE}")
        await conn.execute(f"CREATE TABLE {TABLE} (id serial PRIMARY KEY, at float8)")
        waits: list[float] = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            await conn.execute(f"INSERT INTO {TABLE} (at) VALUES ($1)", time.time())
            waits.append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(1 / rate)
        await conn.execute(f"DROP TABLE {TABLE}")
    finally:
        await conn.close()
    cuts = statistics.quantiles(waits, n=1000, method="inclusive")  # per mille
    return {
        "commits": len(waits),
        "p50_ms": round(cuts[499], 2),
        "p99_ms": round(cuts[989], 2),
        "p999_ms": round(cuts[998], 2),
        "max_ms": round(max(waits), 1),
        "over_50_ms": sum(1 for w in waits if w > 50),
        "over_100_ms": sum(1 for w in waits if w > 100),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=45.0, help="commits a second (at most)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(run(args.database_url, args.seconds, args.rate))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"machine: {describe()}")
    print(
        f"{result['commits']} commits in {args.seconds:.0f} s: p50 {result['p50_ms']} ms, "
        f"p99 {result['p99_ms']} ms, p99.9 {result['p999_ms']} ms, max {result['max_ms']} ms; "
        f"over 50 ms: {result['over_50_ms']}, over 100 ms: {result['over_100_ms']}"
    )


if __name__ == "__main__":
    main()
