"""What the shop's clocks cost: 100,000 pending timers, the timer worker's look per tick, and
the delay from due to fired through the real `TimerWorker` and processor.

    python -m bench.timer_bench [--timers 100000] [--history 100000] [--ticks 200] [--old-index]
                                [--database-url postgresql+asyncpg://.../timer_bench] [--json]

The database gets the real schema (migrations, so the real indexes), `--timers` pending timers
spread evenly over 30 days from an hour ahead, in random order of insertion, and `--history`
timers that fired or were cancelled in the past (what a shop that has run for a while has).
For PostgreSQL the database named in `--database-url` is dropped and created again.

Measured:
- **scan per tick**: `TimerWorker.tick()` (one transaction: the due-timer claim,
  `TimerRepo.claim_due`, `FOR UPDATE SKIP LOCKED` on PostgreSQL) with 0 timers due, and with
  100 due at each tick (claimed, then marked fired outside the timing, as their units would);
  and the worker's sleep query (`TimerRepo.next_due`, the soonest live timer).
- **plans**: EXPLAIN of both statements (the index they use).
- **delay from due to fired** (`fired_at - due`, as the unit of work records it), through the
  real worker and processor (lanes, group commit, a unit of work per timer whose kind no
  handler knows, so only its firing is written): 100 timers falling due on their own over 3 s
  while the worker sleeps; and the clock moved 1,000 timers ahead at once, then `wake()`.

The schema indexes the live timers by due time (`ix_timers_live_due`, a partial index, migration
0008); `--old-index` measures the index it replaced, `ix_timers_fired_due (fired_at, due_at)`
(cancelled timers keep fired_at NULL and so lie in the range the look walks with that one).
The figures are in the README ("Benchmarks", "Timers").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, or_, select, text, update

from bot.processor import Processor
from bot.timers import TimerWorker
from dialogs.clock import FrozenClock, ShiftedClock
from dialogs.clocks import Clocks
from dialogs.customer import Conversations, ReturnAddress, ShopInfo
from dialogs.policy import load_policy
from dialogs.texts import Texts
from dialogs.work import Work
from storage import migrate
from storage.db import Database
from storage.models import Timer
from storage.repos.timers import _LIVE, TimerRepo
from storage.unit import Units

KIND = "bench"  # no handler knows it: a unit of work that only fires it
SPREAD = timedelta(days=30)
AHEAD = timedelta(hours=1)
CHUNK = 5_000
_t = Timer.__table__
# The index migration 0008 replaced (`--old-index`): cancelled timers keep fired_at NULL, so
# they lie in the range of (fired_at, due_at) that every look walks.
OLD_INDEX = (
    "DROP INDEX ix_timers_live_due",
    "CREATE INDEX ix_timers_fired_due ON timers (fired_at, due_at)",
)


async def recreate_postgres(url: str) -> None:
    from bench.telegram_bench import recreate_postgres as recreate

    await recreate(url)


def row(due: datetime, chat_id: int, created: datetime) -> dict[str, Any]:
    return {"kind": KIND, "due_at": due, "chat_id": chat_id, "payload": {}, "created_at": created}


async def fill(db: Database, base: datetime, timers: int, history: int) -> timedelta:
    """The pending timers (evenly spread from `base`) and the past ones; the step between
    two pending timers' due times."""
    step = SPREAD / timers
    rng = random.Random(7)
    order = list(range(timers))
    rng.shuffle(order)
    created = base - timedelta(days=1)
    rows = [row(base + n * step, 10_000 + n % 5_000, created) for n in order]
    for n in range(history):
        due = base - AHEAD - timedelta(seconds=rng.uniform(60, 90 * 86_400))
        done = {"fired_at": due} if n % 4 else {"cancelled_at": due - timedelta(hours=1)}
        rows.append({**row(due, 10_000 + n % 5_000, due - timedelta(days=2)), **done})
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        async with db.transaction() as s:
            for keys in {tuple(sorted(r)) for r in chunk}:  # one statement per shape of row
                await s.execute(insert(_t), [r for r in chunk if tuple(sorted(r)) == keys])
    if db.is_postgresql:
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE timers")
    else:
        async with db.engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE")
    return step


def claim_select(now: datetime) -> Any:
    """The statement `TimerRepo.claim_due` runs to find what is due (for EXPLAIN)."""
    free = or_(_t.c.lease_until.is_(None), _t.c.lease_until <= now)
    return select(_t.c.id).where(_LIVE, _t.c.due_at <= now, free).order_by(_t.c.due_at).limit(200)


async def explain(db: Database, stmt: Any) -> list[str]:
    async with db.engine.connect() as conn:
        compiled = stmt.compile(dialect=conn.dialect)
        params = tuple(compiled.params[k] for k in compiled.positiontup or ())
        prefix = "EXPLAIN QUERY PLAN " if db.is_sqlite else "EXPLAIN "
        result = await conn.exec_driver_sql(prefix + str(compiled), params)
        return [" ".join(str(c) for c in row if c is not None) for row in result]


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "max": round(ordered[-1], 3),
    }


async def scan(db: Database, base: datetime, step: timedelta, ticks: int) -> dict[str, Any]:
    clock = FrozenClock(base - timedelta(minutes=1))
    worker = TimerWorker(db, clock, lambda _t: None, batch=200)
    idle: list[float] = []
    for _ in range(ticks):
        started = time.perf_counter()
        assert await worker.tick() == 0
        idle.append((time.perf_counter() - started) * 1000)
    sleep: list[float] = []
    for _ in range(ticks):
        started = time.perf_counter()
        async with db.read() as s:
            await TimerRepo(s).next_due()
        sleep.append((time.perf_counter() - started) * 1000)
    claimed: list[int] = []
    worker.submit = lambda timer: claimed.append(timer.id)
    busy: list[float] = []
    clock.set(base)
    for _ in range(ticks):
        clock.advance(step * 100)
        started = time.perf_counter()
        count = await worker.tick()
        busy.append((time.perf_counter() - started) * 1000)
        assert 95 <= count <= 105, count
        async with db.transaction() as s:  # as their units of work would
            await s.execute(update(_t).where(_t.c.id.in_(claimed)).values(fired_at=clock.now()))
        claimed.clear()
    return {"tick_ms_0_due": summary(idle), "tick_ms_100_due": summary(busy),
            "next_due_ms": summary(sleep)}  # fmt: skip


def runtime(db: Database, clock: Any) -> tuple[Processor, Work]:
    texts = Texts()
    policy = load_policy("standard")
    returns = ReturnAddress({"zh": "上海"}, {"zh": "售后部"}, "021")
    conversations = Conversations(policy=policy, texts=texts, info=ShopInfo(returns))
    units = Units(db, "Asia/Shanghai")
    work = Work(units, conversations, Clocks(texts), clock)
    return Processor(work, units, clock, texts), work


async def fired_delays(db: Database, ids: list[int], since: dict[int, datetime]) -> list[float]:
    async with db.read() as s:
        rows = (await s.execute(select(_t.c.id, _t.c.fired_at).where(_t.c.id.in_(ids)))).all()
    assert all(fired is not None for _, fired in rows), "not all fired"
    return [(fired - since[i]).total_seconds() * 1000 for i, fired in rows]


async def wait_fired(db: Database, ids: list[int], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with db.read() as s:
            left = await s.scalar(select(func.count()).select_from(_t)
                                  .where(_t.c.id.in_(ids), _t.c.fired_at.is_(None)))  # fmt: skip
        if not left:
            return
        await asyncio.sleep(0.02)
    raise SystemExit(f"timers not fired within {seconds} s")


async def delays(db: Database, base: datetime, step: timedelta) -> dict[str, Any]:
    clock = ShiftedClock()
    processor, _ = runtime(db, clock)
    worker = TimerWorker(db, clock, processor.submit_timer)
    # 100 timers falling due on their own over the next 3 seconds, while the worker sleeps.
    soon = clock.now() + timedelta(seconds=1.5)
    due = {n: soon + timedelta(seconds=3 * n / 100) for n in range(100)}
    async with db.transaction() as s:
        result = await s.execute(
            insert(_t).returning(_t.c.id, _t.c.due_at),
            [row(at, 20_000 + n, clock.now()) for n, at in due.items()],
        )
        natural = dict(result.all())
    task = asyncio.create_task(worker.run())
    try:
        await wait_fired(db, list(natural), 30)
        on_time = await fired_delays(db, list(natural), natural)
        # The clock moved: 1,000 of the pending timers are due at once; the worker is woken.
        async with db.read() as s:
            soonest = select(_t.c.id).where(_LIVE).order_by(_t.c.due_at).limit(1000)
            ahead = list((await s.scalars(soonest)).all())
            last = await s.scalar(select(func.max(_t.c.due_at)).where(_t.c.id.in_(ahead)))
        assert last is not None
        clock.advance(last - clock.now() + timedelta(milliseconds=1))
        moved = clock.now()
        started = time.perf_counter()
        worker.wake()
        await wait_fired(db, list(ahead), 120)
        elapsed = time.perf_counter() - started
        after_move = await fired_delays(db, list(ahead), dict.fromkeys(ahead, moved))
        await processor.drain(10)
    finally:
        worker.stop()
        await task
    return {
        "due_to_fired_ms_natural_100": summary(on_time),
        "due_to_fired_ms_clock_moved_1000": summary(after_move),
        "clock_moved_1000_all_fired_s": round(elapsed, 2),
    }


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = opts.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'timers.db'}"
        if url.startswith("postgresql"):
            await recreate_postgres(url)
        await asyncio.to_thread(migrate.upgrade, url)
        db = Database(url)
        try:
            base = datetime.now(UTC) + AHEAD
            started = time.perf_counter()
            step = await fill(db, base, opts.timers, opts.history)
            filled = time.perf_counter() - started
            if opts.old_index:
                async with db.transaction() as s:
                    for statement in OLD_INDEX:
                        await s.execute(text(statement))
                async with db.engine.begin() as conn:
                    await conn.exec_driver_sql("ANALYZE timers" if db.is_postgresql else "ANALYZE")
            plans = {
                "claim_due": await explain(db, claim_select(base)),
                "next_due": await explain(db, select(func.min(_t.c.due_at)).where(_LIVE)),
            }
            figures = await scan(db, base, step, opts.ticks)
            figures.update(await delays(db, base, step))
        finally:
            await db.dispose()
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    return {
        "database": database,
        "old_index": opts.old_index,
        "pending": opts.timers,
        "history": opts.history,
        "fill_s": round(filled, 1),
        **figures,
        "plans": plans,
    }


def table(result: dict[str, Any]) -> str:
    index = ", the old (fired_at, due_at) index" if result["old_index"] else ""
    lines = [f"{result['database']}{index}: {result['pending']:,} pending timers, "
             f"{result['history']:,} past (filled in {result['fill_s']} s)",
             "| measure | median | p95 | max |", "|---|---:|---:|---:|"]  # fmt: skip
    names = {
        "tick_ms_0_due": "worker tick, 0 due (ms)",
        "tick_ms_100_due": "worker tick, 100 due (ms)",
        "next_due_ms": "sleep query, soonest live timer (ms)",
        "due_to_fired_ms_natural_100": "due → fired, 100 falling due while it sleeps (ms)",
        "due_to_fired_ms_clock_moved_1000": "due → fired, clock moved past 1,000 (ms)",
    }
    for key, name in names.items():
        s = result[key]
        lines.append(f"| {name} | {s['median']} | {s['p95']} | {s['max']} |")
    lines.append(f"clock moved past 1,000: all fired in {result['clock_moved_1000_all_fired_s']} s")
    for name, plan in result["plans"].items():
        lines.append(f"plan of {name}: " + " / ".join(plan))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--timers", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--ticks", type=int, default=200)
    parser.add_argument("--database-url", help="PostgreSQL (the database is recreated)")
    parser.add_argument(
        "--old-index",
        action="store_true",
        help="the (fired_at, due_at) index migration 0008 replaced, to compare",
    )
    parser.add_argument("--json", action="store_true")
    opts = parser.parse_args()
    if opts.database_url and not opts.database_url.startswith("postgresql"):
        parser.error("--database-url is for PostgreSQL (SQLite uses a fresh file)")
    result = asyncio.run(run(opts))
    print(json.dumps(result, indent=2) if opts.json else table(result))


if __name__ == "__main__":
    main()
