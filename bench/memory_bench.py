"""Memory against the shop's history: the bot's peak RSS with 100 and with 100,000 stored
conversations and cases, under the same load.

    .venv/bin/python -m bench.memory_bench [--sizes 100,100000] [--runs 3] [--customers 30]
        [--seconds 40] [--database sqlite|postgresql] [--database-url URL] [--json] [--keep]

For each size N a fresh database (the real schema, from the migrations) is filled with SQLAlchemy
Core bulk inserts: N customers with two orders each (an item each), N conversations (a tenth
open), N cases (a tenth open and waiting for the customer's parcel, the rest closed, cancelled
or rejected, created over the last four years, so a quarter are past the profile's three years
of retention), four case events, an evidence row and (closed ones) a survey per case, a timer
per case (fired or cancelled for the finished cases, pending days ahead for the open ones),
and a processed inbox row and a sent outbox row per customer (most older than the seven days
the processed rows are kept: a shop that has just turned retention on).

Then the real bot (`aftersales run`, polling the local Bot API emulator, pinned to one core)
starts on it with an agents' group, and gets the same load whatever N is:
- `--customers` customers (stored ones, with their history) each run whole returns in a
  closed loop at Telegram's pace, as in `bench.telegram_bench`;
- 50 first-response clocks of cases waiting for a person fall due at the start (each posts to
  the case's topic, made with createForumTopic, and tells the customer);
- the daily pruning runs once during the window (its first run is moved from an hour after the
  start to `--prune-after` seconds: the only change to the bot, made by this module's `bot`
  runner) and anonymises the cases past retention, deletes the old inbox and outbox rows.

The load goes on for `--seconds` and, if the pruning has not finished by then, until 5 s after
it has (it is part of what is measured). Reported: VmHWM (peak resident set) of the bot process
after startup (before the load) and at the end of the window, per N; with `--runs R` the medians
of R runs (the sizes alternate, so drift of the machine falls on both), and the difference
between the largest and the smallest N.

For PostgreSQL the database named in `--database-url` is dropped and created again for each
size (not `test`, `test_gw*` or `postgres`), e.g.
postgresql+asyncpg://postgres@127.0.0.1:5432/memory_bench.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.machine import describe
from bench.telegram_bench import (
    EXPECT,
    FIRST_USER_ID,
    ORDERS_PER_CUSTOMER,
    TOKEN,
    Child,
    Customer,
    Replies,
    Window,
    bot_flows,
    observe,
    order_no,
    peak_rss_mb,
    phone,
    spawn,
    stop_child,
)

CHUNK = 5_000
DUE = 50  # first-response clocks that fall due at the start, whatever N is
AGENT_GROUP = -1_001_000_000_001
AGENT = 600_000_001
OTHER_USER = 800_000_001  # telegram user ids of the stored customers that do not chat
DAY = timedelta(days=1)
FINISHED = ("closed", "closed", "closed", "closed", "cancelled", "rejected")
PRUNED = re.compile(r"pruned: (.*)")
MAX_WINDOW = 600.0  # seconds the load goes on at most, waiting for the pruning


def _pruned(log: Path) -> bool:
    return bool(PRUNED.search(log.read_text(errors="replace")))


# --- the history ------------------------------------------------------------------------------


def _chunks(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _user_id(i: int, customers: int) -> int:
    return FIRST_USER_ID + i if i < customers else OTHER_USER + i


def _kind(i: int, customers: int) -> str:
    """The case of stored customer i: due (a first-response clock due now), open or finished."""
    if customers <= i < customers + DUE:
        return "due"
    return "open" if i % 10 == 9 else "finished"


class History:
    """The rows of a shop with `n` customers; stored customer i < `customers` chats in the load
    (the bench's phone and user id, and 60 fresh orders for its returns)."""

    def __init__(self, n: int, customers: int, now: datetime) -> None:
        if n < customers + DUE:
            raise SystemExit(f"--sizes: at least {customers + DUE} (customers + {DUE} due cases)")
        self.n = n
        self.customers = customers
        self.now = now
        self.span = timedelta(days=4 * 365)

    def created(self, i: int) -> datetime:
        """When customer i's case was made: spread over four years (open ones: this month)."""
        kind = _kind(i, self.customers)
        if kind == "due":
            return self.now - timedelta(hours=3)
        if kind == "open":
            return self.now - timedelta(days=2 + i % 20)
        return self.now - timedelta(days=8) - self.span * ((i * 7919) % self.n) / self.n

    def customer_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):
            loads = i < self.customers
            yield {"id": i + 1, "phone": phone(i) if loads else f"+86135{i:08d}",
                   "name": f"Customer {i}", "language": "en" if loads or i % 5 == 0 else "zh",
                   # the chatting ones are known by phone: they share their contact
                   "telegram_user_id": None if loads else _user_id(i, self.customers),
                   "created_at": self.created(i) - 30 * DAY}  # fmt: skip

    def order_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):
            for k in range(2):
                placed = self.created(i) - (10 + 40 * k) * DAY
                yield {"id": 2 * i + k + 1, "order_no": f"HS{i:07d}{k}", "customer_id": i + 1,
                       "status": "delivered", "placed_at": placed, "paid_at": placed,
                       "shipped_at": placed + DAY, "delivered_at": placed + 3 * DAY,
                       "payment_method": "online", "currency": "CNY", "shipping_fee": 0,
                       "created_at": placed, "updated_at": placed}  # fmt: skip
        base = 2 * self.n + 1
        delivered = self.now - 3 * DAY
        for i in range(self.customers):  # what the chatting customers return
            for k in range(ORDERS_PER_CUSTOMER):
                yield {"id": base + i * ORDERS_PER_CUSTOMER + k, "order_no": order_no(i, k),
                       "customer_id": i + 1, "status": "delivered",
                       "placed_at": delivered - 3 * DAY, "paid_at": delivered - 3 * DAY,
                       "shipped_at": delivered - 2 * DAY, "delivered_at": delivered,
                       "payment_method": "online", "currency": "CNY", "shipping_fee": 0,
                       "created_at": delivered - 3 * DAY, "updated_at": delivered}  # fmt: skip

    def item_rows(self) -> Iterator[dict[str, Any]]:
        orders = 2 * self.n + self.customers * ORDERS_PER_CUSTOMER
        for order_id in range(1, orders + 1):
            yield {"id": order_id, "order_id": order_id, "sku": "PH-001", "name": "Phone X",
                   "category": "electronics", "quantity": 1, "unit_price": 1999}  # fmt: skip

    def case_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):
            kind = _kind(i, self.customers)
            created = self.created(i)
            status = {"due": "pending_review", "open": "awaiting_return"}.get(
                kind, FINISHED[i % len(FINISHED)]
            )
            ended = created + 12 * DAY if kind == "finished" else None
            chat = _user_id(i, self.customers)
            yield {"id": i + 1, "case_no": f"AS-{created:%Y%m%d}-H{i:07d}", "kind": "request",
                   "order_id": 2 * i + 1, "item_id": 2 * i + 1, "customer_id": i + 1,
                   "quantity": 1, "service": "return", "reason": "quality",
                   "description": f"The screen of phone {i} flickers after ten minutes",
                   "status": status, "outcome": "needs_agent" if kind == "due" else "approve",
                   "rules": ["window"], "explanation_key": "decision/approve",
                   "explanation_values": {}, "alternatives": [], "details": {},
                   "shipping_paid_by": "shop", "return_address": "上海市 售后部",
                   "carrier": "sf" if kind != "due" else None,
                   "waybill": f"SF{i:012d}" if kind != "due" else None,
                   "closed_at": ended, "refunded_at": ended, "chat_id": chat,
                   "desk": "queued" if kind == "due" else None,
                   "agent_chat_id": AGENT_GROUP if kind == "due" else None,
                   "handed_over_at": created if kind == "due" else None,
                   "locale": "en" if i < self.customers or i % 5 == 0 else "zh",
                   "created_at": created, "updated_at": ended or created,
                   "version": 1}  # fmt: skip

    def event_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):
            at = self.created(i)
            for k, kind in enumerate(("submitted", "decided", "waybill", "closed")):
                yield {"case_id": i + 1, "at": at + k * 3 * DAY,
                       "actor": "customer" if k == 0 else "bot", "kind": kind,
                       "data": {"text": "please help"} if k == 0 else {"step": kind}}  # fmt: skip

    def evidence_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):
            yield {"case_id": i + 1, "kind": "photo", "file_id": f"AgAC{i:020d}",
                   "file_unique_id": f"AQAD{i:012d}", "size_bytes": 180_000,
                   "created_at": self.created(i)}  # fmt: skip

    def survey_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):
            if _kind(i, self.customers) == "finished":
                at = self.created(i) + 12 * DAY
                yield {"case_id": i + 1, "asked_at": at, "rating": 1 + i % 5,
                       "attitude": 5, "speed": 4, "result": 1 + i % 5,
                       "comment": "fast" if i % 3 == 0 else None, "answered_at": at}  # fmt: skip

    def timer_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):
            kind = _kind(i, self.customers)
            created = self.created(i)
            chat = _user_id(i, self.customers)
            row = {"case_id": i + 1, "chat_id": chat, "payload": {}, "created_at": created}
            if kind == "due":
                yield {**row, "kind": "first_response", "due_at": self.now - timedelta(minutes=1)}
            elif kind == "open":
                yield {**row, "kind": "ship_back", "due_at": self.now + (5 + i % 20) * DAY}
            elif i % 4:
                yield {**row, "kind": "review", "due_at": created + DAY, "fired_at": created + DAY}
            else:
                yield {**row, "kind": "review", "due_at": created + DAY, "cancelled_at": created}

    def conversation_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):
            chat = _user_id(i, self.customers)
            is_open = i >= self.customers and i % 10 == 3
            at = self.created(i)
            yield {"chat_id": chat, "user_id": chat, "customer_id": i + 1,
                   "state": "menu" if is_open else "case_done",
                   "context": {"case_id": i + 1, "order_no": f"HS{i:07d}0"},
                   "locale": "zh", "mode": "bot", "is_open": is_open, "version": 3,
                   "created_at": at, "updated_at": at}  # fmt: skip

    def inbox_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):  # the customer's last update, kept since (before retention)
            chat = _user_id(i, self.customers)
            at = self.created(i)
            yield {"update_id": i + 1, "identity": f"m:{chat}:1", "chat_id": chat,
                   "lane": chat, "status": "done", "received_at": at, "processed_at": at,
                   "payload": {"update_id": i + 1, "message": {
                       "message_id": 1, "date": int(at.timestamp()),
                       "chat": {"id": chat, "type": "private"},
                       "from": {"id": chat, "is_bot": False, "first_name": "C"},
                       "text": "my phone flickers"}}}  # fmt: skip

    def outbox_rows(self) -> Iterator[dict[str, Any]]:
        for i in range(self.n):  # the bot's last message to the customer
            chat = _user_id(i, self.customers)
            at = self.created(i)
            yield {"chat_id": chat, "status": "sent", "attempts": 1, "steps_done": 1,
                   "payload": {"kind": "message", "text": f"Your request {i} is closed"},
                   "created_at": at, "sent_at": at, "telegram_message_id": 10}  # fmt: skip

    def tables(self) -> list[tuple[str, Iterator[dict[str, Any]]]]:
        return [("customers", self.customer_rows()), ("orders", self.order_rows()),
                ("order_items", self.item_rows()), ("cases", self.case_rows()),
                ("case_events", self.event_rows()), ("evidence", self.evidence_rows()),
                ("surveys", self.survey_rows()), ("timers", self.timer_rows()),
                ("conversations", self.conversation_rows()), ("inbox", self.inbox_rows()),
                ("outbox", self.outbox_rows())]  # fmt: skip


def _columns(table: Any, rows: list[dict[str, Any]]) -> list[str]:
    """The table's columns the rows give, in the table's order."""
    given = {key for row in rows for key in row}
    return [c.name for c in table.columns if c.name in given]


def _sqlite_converters(table: Any, columns: list[str]) -> list[Any]:
    """Per column, what SQLAlchemy's bind would make of a value on SQLite (naive UTC text for
    times, JSON text), or None where the value goes as it is."""
    from storage.types import JSONValue, UTCDateTime

    def moment(value: datetime | None) -> str | None:  # the values here are all UTC already
        return None if value is None else value.isoformat(" ", "microseconds")[:26]

    def document(value: Any) -> str | None:
        if value is None:
            return None
        return ("{}" if isinstance(value, dict) else "[]") if not value else json.dumps(value)

    kinds = {c.name: c.type for c in table.columns}
    return [moment if isinstance(kinds[c], UTCDateTime)
            else document if isinstance(kinds[c], JSONValue) else None
            for c in columns]  # fmt: skip


def _postgres_value(value: Any) -> Any:
    """As asyncpg's COPY takes it: JSON as text (jsonb), the rest as it is."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _fill_sqlite(path: str, history: History) -> dict[str, int]:
    """One transaction per chunk through sqlite3's executemany, the INSERT compiled by Core."""
    import sqlite3

    from sqlalchemy import insert
    from sqlalchemy.dialects import sqlite

    from storage.models import Base

    counts: dict[str, int] = {}
    indexes: list[tuple[str, str]] = []
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # A fresh file, filled once: no journal, and the indexes' pages in memory meanwhile.
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        # The migrations' indexes are built after the rows (one sort each, not 1.5M inserts).
        indexes = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'"
                               " AND sql IS NOT NULL").fetchall()  # fmt: skip
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        for name, rows in history.tables():
            table = Base.metadata.tables[name]
            counts[name] = 0
            columns: list[str] = []
            for chunk in _chunks(rows):
                if not columns:
                    columns = _columns(table, chunk)
                    convert = list(zip(columns, _sqlite_converters(table, columns), strict=True))
                    sql = str(insert(table).compile(dialect=sqlite.dialect(), column_keys=columns))
                conn.execute("BEGIN")
                conn.executemany(sql, [tuple(f(r.get(c)) if f else r.get(c) for c, f in convert)
                                       for r in chunk])  # fmt: skip
                conn.execute("COMMIT")
                counts[name] += len(chunk)
        for _, sql in indexes:
            conn.execute(sql)
        conn.execute("ANALYZE")
        conn.execute("PRAGMA journal_mode=WAL")  # as the bot keeps it
    finally:
        conn.close()
    return counts


async def _fill_postgres(url: str, history: History) -> dict[str, int]:
    """COPY of each chunk (asyncpg's copy_records_to_table), then the id sequences moved on."""
    from decimal import Decimal

    import asyncpg
    from sqlalchemy import Numeric
    from sqlalchemy.engine import make_url

    from storage.models import Base

    parsed = make_url(url)
    conn = await asyncpg.connect(user=parsed.username, password=parsed.password,
                                 host=parsed.host, port=parsed.port,
                                 database=parsed.database)  # fmt: skip
    counts: dict[str, int] = {}
    try:
        for name, rows in history.tables():
            table = Base.metadata.tables[name]
            counts[name] = 0
            columns: list[str] = []
            money: set[str] = set()
            for chunk in _chunks(rows):
                if not columns:
                    columns = _columns(table, chunk)
                    money = {c.name for c in table.columns if isinstance(c.type, Numeric)}
                records = [
                    tuple(Decimal(r[c]) if c in money and r.get(c) is not None
                          else _postgres_value(r.get(c)) for c in columns)
                    for r in chunk
                ]  # fmt: skip
                await conn.copy_records_to_table(name, records=records, columns=columns)
                counts[name] += len(chunk)
            if "id" in columns:
                await conn.execute(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                   f"(SELECT max(id) FROM {name}))")  # fmt: skip
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return counts


async def fill(url: str, n: int, customers: int, now: datetime) -> dict[str, int]:
    """A fresh database with the real schema (migrations) and the history; rows per table."""
    from sqlalchemy.engine import make_url

    from storage import migrate

    if url.startswith("postgresql"):
        await recreate_postgres(url)
    await asyncio.to_thread(migrate.upgrade, url)
    history = History(n, customers, now)
    if url.startswith("postgresql"):
        return await _fill_postgres(url, history)
    return await asyncio.to_thread(_fill_sqlite, make_url(url).database or "", history)


async def recreate_postgres(url: str) -> None:
    from sqlalchemy.engine import make_url

    from bench.telegram_bench import recreate_postgres as recreate

    name = make_url(url).database or ""
    if name.startswith("test"):
        raise SystemExit(f"refusing to drop and recreate database {name!r}: name another one")
    await recreate(url)


# --- one size under load ----------------------------------------------------------------------


def _status(pid: int, key: str) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


async def measure(n: int, opts: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from bot.emulator.server import EmulatorServer

    url = opts.database_url or f"sqlite+aiosqlite:///{tmp / 'memory.db'}"
    started = time.perf_counter()
    counts = await fill(url, n, opts.customers, datetime.now(UTC))
    filled = time.perf_counter() - started
    async with EmulatorServer(check_results=False) as server:
        emu = server.emulator
        replies = Replies()
        observe(emu, replies)
        agent = emu.create_user(AGENT, "Lin", language_code="en")
        emu.create_group("Agents", id=AGENT_GROUP, members=[agent])
        for i in range(opts.customers, opts.customers + DUE):  # the due cases' customers
            user = emu.create_user(_user_id(i, opts.customers), f"Customer {i}", language_code="zh")
            emu.chats[user.id].known = True  # they talked to the bot before
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "BOT_TOKEN": TOKEN,
               "TELEGRAM_API_BASE": server.base_url, "DATABASE_URL": url,
               "EVIDENCE_DIR": str(tmp / "evidence"), "DEFAULT_LOCALE": "en",
               "LINK_SECRET": "bench-link-secret-not-for-production",
               "AGENT_CHAT_ID": str(AGENT_GROUP), "AGENT_IDS": str(AGENT),
               "MEMORY_BENCH_PRUNE_AFTER": str(opts.prune_after)}  # fmt: skip
        argv = [sys.executable, "-m", "bench.memory_bench", "bot", "run"]
        log = tmp / "bot.log"
        child = await spawn("bot", argv, env, opts.bot_core, log)
        try:

            def ready() -> bool:
                return len(emu.calls_to("setMyCommands")) >= 3 and bool(emu.calls_to("getUpdates"))

            with contextlib.suppress(TimeoutError):
                await emu.wait_until(lambda: ready() or child.proc.returncode is not None, 120)
            if not ready():
                raise SystemExit(f"the bot did not start:\n{child.tail()}")
            at_start = peak_rss_mb(child.proc.pid)
            result = await _load(emu, replies, child, opts, log)
            result["rss_after_start_mb"] = round(at_start, 1)
            result["topics_made"] = len([c for c in emu.calls_to("createForumTopic") if c.ok])
        finally:
            await stop_child(child)
        pruned = PRUNED.findall(log.read_text(errors="replace"))
        if not pruned:
            print(f"N={n}: the pruning did not run in the window:\n{child.tail()}", file=sys.stderr)
        errors = [f"{e.method}: {e.description}" for e in emu.validation_errors[:3]]
    return {"n": n, "fill_s": round(filled, 1), "rows": sum(counts.values()), **result,
            "pruned": pruned[0] if pruned else None, "validation_errors": errors}  # fmt: skip


async def _load(emu: Any, replies: Replies, child: Child, opts: argparse.Namespace, log: Path
                ) -> dict[str, Any]:  # fmt: skip
    """The load for `--seconds`, and on until the pruning has finished (and 5 s more)."""
    start = time.time()
    window = Window(warmup_end=start, end=None, rounds_updates=None)
    customers = []
    for i in range(opts.customers):
        user = emu.create_user(FIRST_USER_ID + i, f"Customer {i}", language_code="en")
        customers.append(Customer(emu, replies, window, user, phone(i)))
    tasks = [asyncio.create_task(c.run(*bot_flows(i, EXPECT))) for i, c in enumerate(customers)]
    samples: list[float] = []
    anon: list[float] = []  # of which not file-backed (the heap: what the bot holds)
    end = start + opts.seconds
    while time.time() < end:
        await asyncio.sleep(1)
        if end - time.time() < 5 and time.time() < start + MAX_WINDOW and not _pruned(log):
            end = time.time() + 5
        samples.append(_status(child.proc.pid, "VmRSS"))
        anon.append(_status(child.proc.pid, "RssAnon"))
    peak = peak_rss_mb(child.proc.pid)
    window.end = time.time()
    window.stop.set()
    _, pending = await asyncio.wait(tasks, timeout=5)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    due_told = sum(1 for i in range(opts.customers, opts.customers + DUE)
                   if replies.count(_user_id(i, opts.customers)))  # fmt: skip
    return {"peak_rss_mb": round(peak, 1), "rss_end_mb": round(samples[-1], 1),
            "window_s": round(window.end - start),
            "updates": window.replies_in_window, "stalls": window.stalls,
            "due_customers_told": due_told,
            "rss_anon_end_mb": round(anon[-1], 1), "rss_anon_max_mb": round(max(anon), 1),
            "rss_each_second_mb": [round(v) for v in samples],
            "rss_anon_each_second_mb": [round(v) for v in anon]}  # fmt: skip


# --- the runs ---------------------------------------------------------------------------------


async def run(opts: argparse.Namespace) -> dict[str, Any]:
    os.sched_setaffinity(0, {opts.emu_core})
    runs: list[dict[str, Any]] = []
    for r in range(opts.runs):
        sizes = opts.sizes if r % 2 == 0 else opts.sizes[::-1]
        for n in sizes:
            tmp = Path(tempfile.mkdtemp(prefix=f"memory-bench-{n}-"))
            try:
                result = await measure(n, opts, tmp)
            finally:
                if not opts.keep:
                    await asyncio.to_thread(shutil.rmtree, tmp, True)
            print(json.dumps(result), file=sys.stderr, flush=True)
            runs.append(result)
    by_size = {}
    for n in opts.sizes:
        mine = [r for r in runs if r["n"] == n]
        by_size[n] = {
            key: statistics.median(r[key] for r in mine)
            for key in ("peak_rss_mb", "rss_after_start_mb", "rss_end_mb", "fill_s")
        }
        by_size[n]["peaks"] = [r["peak_rss_mb"] for r in mine]  # fmt: skip
    low, high = min(opts.sizes), max(opts.sizes)
    return {"machine": describe(), "load": os.getloadavg(),
            "database": "postgresql" if opts.database_url else "sqlite",
            "customers": opts.customers, "seconds": opts.seconds, "by_size": by_size,
            "difference_mb": round(by_size[high]["peak_rss_mb"] - by_size[low]["peak_rss_mb"], 1),
            "runs": runs}  # fmt: skip


def text_report(result: dict[str, Any]) -> str:
    lines = [f"machine: {result['machine']}; load average at the end "
             + ", ".join(f"{v:.2f}" for v in result["load"]),
             f"database: {result['database']}; {result['customers']} customers chatting for "
             f"{result['seconds']:g} s, {DUE} clocks due, one pruning",
             "| stored N | peak RSS MB (median) | runs | after start | fill s |",
             "|---:|---:|---|---:|---:|"]  # fmt: skip
    for n, s in result["by_size"].items():
        peaks = ", ".join(f"{p:g}" for p in s["peaks"])
        lines.append(f"| {n:,} | {s['peak_rss_mb']:g} | {peaks} | {s['rss_after_start_mb']:g}"
                     f" | {s['fill_s']:g} |")  # fmt: skip
    lines.append(f"difference (largest N - smallest): {result['difference_mb']:+g} MB")
    for r in result["runs"]:
        lines.append(f"N={r['n']:,}: {r['rows']:,} rows, {r['updates']} updates in "
                     f"{r['window_s']} s, peak {r['peak_rss_mb']} MB, "
                     f"{r['stalls']} stalls, {r['due_customers_told']}/{DUE} due clocks told, "
                     f"{r['topics_made']} topics, pruned: {r['pruned']}")  # fmt: skip
        for error in r["validation_errors"]:
            lines.append(f"  VALIDATION ERROR {error}")
    return "\n".join(lines)


def bot_main(argv: list[str]) -> int:
    """`python -m bench.memory_bench bot run`: the production runner, with the daily
    pruning's first run moved forward to MEMORY_BENCH_PRUNE_AFTER seconds."""
    import bot.pruning
    from bot.cli import main

    after = os.environ.get("MEMORY_BENCH_PRUNE_AFTER")
    if after:
        bot.pruning.Pruner.__init__.__kwdefaults__["first_after"] = float(after)  # type: ignore[index]
    return int(main(argv) or 0)


def main() -> None:
    if sys.argv[1:2] == ["bot"]:
        sys.exit(bot_main(sys.argv[2:]))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default="100,100000", help="stored customers and cases")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--customers", type=int, default=30, help="chatting during the window")
    parser.add_argument("--seconds", type=float, default=40.0, help="the window under load")
    parser.add_argument("--prune-after", type=float, default=10.0, help="seconds after start")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url", help="required for postgresql (it is recreated)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--keep", action="store_true", help="keep each size's files")
    opts = parser.parse_args()
    if opts.database == "postgresql" and not opts.database_url:
        parser.error("--database postgresql needs --database-url postgresql+asyncpg://...")
    if opts.database == "sqlite" and opts.database_url:
        parser.error("--database-url is for --database postgresql (SQLite uses a fresh file)")
    opts.sizes = [int(s) for s in opts.sizes.split(",")]
    cores = sorted(os.sched_getaffinity(0))
    opts.emu_core, opts.bot_core = cores[0], cores[-1]
    result = asyncio.run(run(opts))
    print(json.dumps(result, indent=2) if opts.json else text_report(result))


if __name__ == "__main__":
    main()
