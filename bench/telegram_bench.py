"""End-to-end throughput over the Bot API: a minimal aiogram echo bot and this bot, in one run.

    .venv/bin/python -m bench.telegram_bench [--customers 200] [--seconds 20 | --rounds N]
        [--warmup 5] [--database sqlite|postgresql] [--database-url URL] [--json]
        [--no-unpaced] [--pairs N] [--only echo|bot|unpaced] [--trace] [--keep]

Both bots run in their own process (pinned to one core) and poll the local Bot API emulator,
which runs here together with the load generator (pinned to another core when there is one).
Every simulated customer is a closed loop: it sends its next update only after the bot has
answered the previous one, so the figures are the rate the bot sustains with `--customers`
people talking to it at once, and how long each of them waits for an answer. A customer also
waits for the rest of the bot's turn (the number of messages each step produces is fixed in
EXPECT; `--trace` shows customer 0's turns) so that the next update is timed against its own
reply, not against a late message of the previous turn.

* "reply": the first message or edit the bot makes in the customer's chat after the update
  (timestamped when the emulator has handled the call); latency = reply time - send time.
* updates/s: replies received inside the measuring window / window length.
* This bot runs the production code path (`python -m bot.cli run`) on a fresh database holding
  one customer and one delivered electronics order per simulated customer; each customer goes
  through a whole return (/start, contact, New request, order, Return, Quality, description,
  photo, Done, Confirm) and then again from /menu. Its outbox keeps Telegram's flood limits
  (about 1 message/s per private chat, 25/s overall): that is correct behaviour, so it is in
  the figures; the report says which limit a run hits. At 25 messages/s, 200 customers need
  about 30 s just for /start and the contact (2 messages each): the default window measures
  mostly that; `--warmup 40` measures the return flow itself.
* A third run, "unpaced" (`bench/telegram_unpaced.py`, skip with `--no-unpaced`), is the same
  bot with the outbox's flood limits lifted by its settings (`TELEGRAM_RATE_*=100000` in the
  bot process's environment): not a production setting (Telegram would answer 429), but it
  shows what the rest of the bot sustains. It runs
  right after the echo bot, the pair it is compared with; `--pairs N` runs that pair N times
  (echo, unpaced, echo, unpaced, ...) and reports the median of the N ratios, because a shared
  machine's speed drifts by more than a few percent within minutes. The paced run comes last.
* For this bot the latency is split using the inbox's `processed_at`: poll (until getUpdates
  handed the update out), intake (until the processor took it in hand), handle_deliver (until
  the first reply: the conversation transaction, the outbox, flood pacing, HTTP).
* The echo bot gets the same kind of load: a text, then a press of the button on its echo.
* Peak RSS is VmHWM of each bot process; CPU is measured over the window for each bot and for
  this process, which warns when the emulator side rather than the bot is saturated; "other"
  is every other process on the machine (other people's jobs, the PostgreSQL server, whose
  share is also given on its own): on a shared machine it skews the figures.
* Any emulator validation error is printed (a correct bot causes none).

A local PostgreSQL server is kept on the emulator's core while this bot runs (off the bot's
core, as a server of its own would be; `--database-anywhere` leaves it to the scheduler).
For PostgreSQL the database named in `--database-url` is dropped and created again (it must not
be `test` or `postgres`), e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test_bench.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.machine import describe
from bot.emulator.emulator import Emulator
from bot.emulator.server import EmulatorServer
from bot.emulator.state import SentMessage, SimUser

TOKEN = "123456789:" + "B" * 35
PHOTO = b"\xff\xd8\xff" + b"p" * 5000
REPLY_TIMEOUT = 60.0  # a reply later than this is a stall, reported, and the customer resyncs
# Calls that put something new in front of the customer: a message, or an edit of one.
REPLY_METHODS = frozenset(
    m.lower()
    for m in (
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
    )
)
FIRST_USER_ID = 700_000_001
ROOT = str(Path(__file__).resolve().parent.parent)  # both bots run from the repository root


# --- observing replies ------------------------------------------------------------------------


class Replies:
    """Per-chat count and times of the bot's messages and edits, with per-chat waiters.

    The emulator's own `wait_until` wakes every waiter after every call; with 200 customers
    waiting that is 200 predicate checks per call, in the process that must not be the
    bottleneck. Here a call wakes only the waiters of its own chat.
    """

    def __init__(self) -> None:
        self.times: dict[int, list[float]] = {}
        self.fetched: dict[int, float] = {}  # update_id -> when getUpdates handed it out
        self._waiters: dict[int, list[tuple[int, asyncio.Future[None]]]] = {}

    def count(self, chat_id: int) -> int:
        return len(self.times.get(chat_id, ()))

    def hit(self, chat_id: int, at: float) -> None:
        times = self.times.setdefault(chat_id, [])
        times.append(at)
        waiters = self._waiters.get(chat_id)
        if not waiters:
            return
        keep = []
        for threshold, future in waiters:
            if len(times) >= threshold:
                if not future.done():
                    future.set_result(None)
            else:
                keep.append((threshold, future))
        self._waiters[chat_id] = keep

    async def wait(self, chat_id: int, count: int, timeout: float) -> bool:  # noqa: ASYNC109
        """Until the chat has `count` replies; False on timeout."""
        if self.count(chat_id) >= count:
            return True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(chat_id, []).append((count, future))
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return False
        return True


def observe(emu: Emulator, replies: Replies) -> None:
    """Timestamp every successful message or edit in a private chat (the emulator unchanged:
    its `execute` is wrapped on this one instance)."""
    execute = emu.execute

    async def timed(
        method: str, params: dict[str, Any], files: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        status, body = await execute(method, params, files)
        name = method.lower()
        if body.get("ok") and name == "getupdates":
            now = time.time()
            for update in body["result"]:
                replies.fetched.setdefault(update["update_id"], now)
        elif body.get("ok") and name in REPLY_METHODS:
            with contextlib.suppress(KeyError, TypeError, ValueError):
                chat_id = int(params["chat_id"])
                if chat_id > 0:
                    replies.hit(chat_id, time.time())
        return status, body

    emu.execute = timed  # type: ignore[method-assign]


# --- the load -----------------------------------------------------------------------------------


@dataclass
class Window:
    """The measuring window; customers stop when `stop` is set."""

    warmup_end: float
    end: float | None  # None: --rounds, the window ends when the last customer is done
    rounds_updates: int | None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    latencies: list[float] = field(default_factory=list)  # replies inside the window
    samples: list[tuple[int, float, float]] = field(default_factory=list)  # id, sent, reply
    replies_in_window: int = 0
    stalls: int = 0
    stall_notes: list[str] = field(default_factory=list)
    last_reply: float = 0.0

    def record(self, update_id: int, sent: float, reply: float) -> None:
        if reply >= self.warmup_end and (self.end is None or reply <= self.end):
            self.replies_in_window += 1
            self.latencies.append(reply - sent)
            self.samples.append((update_id, sent, reply))
            self.last_reply = max(self.last_reply, reply)


@dataclass(frozen=True)
class Step:
    kind: str  # text | contact | photo | tap
    arg: str
    expect: int = 1  # messages and edits the bot makes for this update (its whole turn)


class Customer:
    def __init__(
        self, emu: Emulator, replies: Replies, window: Window, user: SimUser, phone: str
    ) -> None:
        self.emu = emu
        self.replies = replies
        self.window = window
        self.user = user
        self.phone = phone
        self.measured = 0
        self.trace: list[str] | None = None

    def _recent(self, depth: int = 6) -> list[SentMessage]:
        chat = self.emu.chats[self.user.id]
        return list(itertools.islice(reversed(chat.bot_messages.values()), depth))

    def _find(self, label: str) -> tuple[SentMessage, str] | None:
        for message in self._recent():
            if message.deleted:
                continue
            for button in message.buttons:
                if label in button.get("text", "") and "callback_data" in button:
                    return message, button["callback_data"]
        return None

    async def _button(self, label: str) -> tuple[SentMessage, str]:
        # The turn that offers the button may still be on its way (paced by the outbox).
        deadline = time.time() + REPLY_TIMEOUT
        while (found := self._find(label)) is None:
            seen = self.replies.count(self.user.id)
            remaining = deadline - time.time()
            if remaining <= 0 or not await self.replies.wait(self.user.id, seen + 1, remaining):
                texts = [m.text for m in self._recent(3)]
                raise LookupError(f"user {self.user.id}: no button {label!r} in {texts!r}")
        return found

    def _action(self, step: Step) -> Callable[[], Awaitable[dict[str, Any]]]:
        emu, user = self.emu, self.user
        if step.kind == "text":
            return lambda: emu.user_sends_text(user, step.arg)
        if step.kind == "contact":
            return lambda: emu.user_sends_contact(user, self.phone)
        if step.kind == "photo":
            return lambda: emu.user_sends_photo(user, PHOTO)
        raise ValueError(step.kind)

    async def do(self, step: Step) -> None:
        if step.kind == "tap":
            message, data = await self._button(step.arg)
            action: Callable[[], Awaitable[dict[str, Any]]] = lambda: self.emu.user_clicks(  # noqa: E731
                self.user, message, data
            )
        else:
            action = self._action(step)
        chat = self.user.id
        before = self.replies.count(chat)
        sent = time.time()
        update = await action()
        if not await self.replies.wait(chat, before + 1, REPLY_TIMEOUT):
            self._stall(step, "no reply")
            return
        self.window.record(update["update_id"], sent, self.replies.times[chat][before])
        if sent >= self.window.warmup_end:
            self.measured += 1
        # The rest of the turn, so that the next update's first reply is its own.
        if not await self.replies.wait(chat, before + step.expect, REPLY_TIMEOUT):
            self._stall(step, f"expected {step.expect} replies")
        if self.trace is not None:
            got = self.replies.count(chat) - before
            texts = [(m.text or "")[:60].replace("\n", " ") for m in self._recent(got)]
            self.trace.append(f"{step.kind} {step.arg!r}: {got} replies {texts[::-1]}")

    def _stall(self, step: Step, what: str) -> None:
        self.window.stalls += 1
        if len(self.window.stall_notes) < 5:
            self.window.stall_notes.append(f"user {self.user.id} {step.kind} {step.arg!r}: {what}")

    def done(self) -> bool:
        if self.window.stop.is_set():
            return True
        quota = self.window.rounds_updates
        return quota is not None and self.measured >= quota

    async def run(self, first: list[Step], loop: list[Step]) -> None:
        steps = itertools.chain(first, itertools.cycle(loop))
        try:
            for step in steps:
                if self.done():
                    return
                await self.do(step)
        except LookupError as error:  # lost its way (a stall upstream): stop this customer
            self.window.stalls += 1
            if len(self.window.stall_notes) < 5:
                self.window.stall_notes.append(str(error))


ORDERS_PER_CUSTOMER = 60  # one request per item at a time: each round takes the next order


def bot_flows(n: int, expect: dict[str, int]) -> tuple[list[Step], list[Step]]:
    """This bot's workload: one whole return, then again from /menu for the customer's next
    order (the bot refuses a second request for an item whose first is under way), and round
    again; each order number is typed where the order list asks for it."""

    def ret(k: int) -> list[Step]:
        return [
            Step("tap", "New request", expect.get("new", 1)),
            Step("text", order_no(n, k), expect.get("order", 1)),
            Step("tap", "Return and refund", expect.get("service", 1)),
            Step("tap", "Quality problem", expect.get("reason", 1)),
            Step("text", "The screen flickers after ten minutes", expect.get("description", 1)),
            Step("photo", "", expect.get("photo", 1)),
            Step("tap", "Done", expect.get("done", 1)),
            Step("tap", "Confirm", expect.get("confirm", 1)),
        ]

    first = [Step("text", "/start", 2), Step("contact", "", 2), *ret(0)]
    rounds = [[Step("text", "/menu", expect.get("menu", 2)), *ret(k)]
              for k in range(1, ORDERS_PER_CUSTOMER)]  # fmt: skip
    return first, [step for one in rounds for step in one]


ECHO_LOOP = [Step("text", "Hello, is my parcel on its way?"), Step("tap", "✓")]


# --- processes ------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def system_busy_seconds() -> float:
    """CPU seconds every process on the machine has used (other engineers' runs included)."""
    with open("/proc/stat", encoding="ascii") as f:
        fields = [int(v) for v in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU seconds of the PostgreSQL server's processes (found by name: not our children)."""
    total = 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/comm", encoding="utf-8") as f:
                if f.read().strip() != "postgres":
                    continue
            total += cpu_seconds(int(entry.name))
        except OSError:  # gone meanwhile
            continue
    return total


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (by name)."""
    pids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/comm", encoding="utf-8") as f:
                    if f.read().strip() == "postgres":
                        pids.append(int(entry.name))
            except OSError:  # gone meanwhile
                continue
    return pids


@contextlib.contextmanager
def database_on_core(core: int | None) -> Any:
    """Keep a local PostgreSQL server off the bot's core for the run (its backends, forked
    after this, inherit the postmaster's mask): on a 2-core machine the server otherwise
    runs on the bot's core now and then, and the bot's figure measures the scheduler as
    much as the bot. A server of its own, as in production, is what this stands in for.
    Masks are put back after; without the right to change them nothing is done."""
    if core is None:
        yield
        return
    before: dict[int, set[int]] = {}
    for pid in postgres_pids():
        try:
            before[pid] = os.sched_getaffinity(pid)
            os.sched_setaffinity(pid, {core})
        except OSError:
            continue
    everywhere = set(range(os.cpu_count() or 1))  # backends forked meanwhile
    try:
        yield
    finally:
        for pid in postgres_pids():
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, before.get(pid) or everywhere)


def peak_rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Child:
    name: str
    proc: asyncio.subprocess.Process
    log: Path

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


async def spawn(name: str, argv: list[str], env: dict[str, str], core: int, log: Path) -> Child:
    def pin() -> None:
        os.sched_setaffinity(0, {core})

    out = log.open("wb")
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=out,
        stderr=out,
        preexec_fn=pin,  # only sched_setaffinity between fork and exec: no locks taken
        cwd=ROOT,
    )
    out.close()
    return Child(name, proc, log)


async def stop_child(child: Child, grace: float = 15.0) -> None:
    if child.proc.returncode is None:
        child.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(child.proc.wait(), grace)
        except TimeoutError:
            child.proc.kill()
            await child.proc.wait()


# --- the database for this bot ----------------------------------------------------------------


def order_records(customers: int, now: datetime) -> list[dict[str, Any]]:
    delivered = now - timedelta(days=3)
    return [
        {
            "order_no": order_no(n, k),
            "customer": {"phone": phone(n), "name": f"Customer {n}", "language": "en"},
            "placed_at": (delivered - timedelta(days=3)).isoformat(),
            "paid_at": (delivered - timedelta(days=3, minutes=-1)).isoformat(),
            "shipped_at": (delivered - timedelta(days=2)).isoformat(),
            "delivered_at": delivered.isoformat(),
            "status": "delivered",
            "payment_method": "online",
            "currency": "CNY",
            "shipping_fee": "0.00",
            "items": [
                {
                    "sku": "PH-001",
                    "name": "Phone X",
                    "category": "electronics",
                    "quantity": 1,
                    "unit_price": "1999.00",
                }
            ],
        }
        for n in range(customers)
        for k in range(ORDERS_PER_CUSTOMER)
    ]


def phone(n: int) -> str:
    return f"+86137{n:08d}"


def order_no(n: int, k: int) -> str:
    return f"BN{n:06d}{k:04d}"


async def recreate_postgres(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = parsed.database or ""
    if name in ("", "test", "postgres", "template0", "template1"):
        raise SystemExit(f"refusing to drop and recreate database {name!r}: name another one")
    conn = await asyncpg.connect(
        user=parsed.username,
        password=parsed.password,
        host=parsed.host,
        port=parsed.port,
        database="postgres",
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def prepare_database(url: str, customers: int) -> None:
    from storage import migrate
    from storage.db import Database
    from storage.import_format import RawRecord
    from storage.importer import import_records

    if url.startswith("postgresql"):
        await recreate_postgres(url)
    await asyncio.to_thread(migrate.upgrade, url)
    now = datetime.now(UTC)
    records = [RawRecord(n, r) for n, r in enumerate(order_records(customers, now), start=1)]
    db = Database(url)
    try:
        report = await import_records(db, records, source="bench", now=now)
    finally:
        await db.dispose()
    if not report.ok or report.imported != customers * ORDERS_PER_CUSTOMER:
        raise SystemExit(f"order import failed: {report.summary()}")


# --- one bot under load -----------------------------------------------------------------------


@dataclass
class Options:
    customers: int
    seconds: float
    rounds: int | None
    warmup: float
    database: str
    database_url: str | None
    emu_core: int
    bot_core: int
    trace: bool
    unpaced: bool
    only: str | None = None
    keep: bool = False
    pairs: int = 1
    database_core: int | None = None  # where a local PostgreSQL server runs (None: anywhere)


def percentile(values: list[float], p: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


async def measure(kind: str, opts: Options, tmp: Path) -> dict[str, Any]:
    async with EmulatorServer(check_results=False) as server:
        emu = server.emulator
        replies = Replies()
        observe(emu, replies)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        url = ""
        if kind == "echo":
            argv = [sys.executable, "-m", "bench.telegram_echo", server.base_url, TOKEN]
            ready: Callable[[], bool] = lambda: bool(emu.calls_to("getUpdates"))  # noqa: E731
            steps_per_round = len(ECHO_LOOP)
        else:
            url = opts.database_url or f"sqlite+aiosqlite:///{tmp / f'{kind}.db'}"
            await prepare_database(url, opts.customers)
            env.update(
                BOT_TOKEN=TOKEN,
                TELEGRAM_API_BASE=server.base_url,
                DATABASE_URL=url,
                EVIDENCE_DIR=str(tmp / "evidence"),
                DEFAULT_LOCALE="en",
                LINK_SECRET="bench-link-secret-not-for-production",
            )
            if kind == "unpaced":  # the flood limits lifted by the bot's own settings
                from bench.telegram_unpaced import UNPACED

                env.update(UNPACED)
            runner = "bench.telegram_unpaced" if kind == "unpaced" else "bot.cli"
            argv = [sys.executable, "-m", runner, "run"]

            def ready() -> bool:
                return len(emu.calls_to("setMyCommands")) >= 3 and bool(emu.calls_to("getUpdates"))

            steps_per_round = len(bot_flows(0, {})[1]) // (ORDERS_PER_CUSTOMER - 1)
        with database_on_core(opts.database_core if kind != "echo" else None):
            child = await spawn(kind, argv, env, opts.bot_core, tmp / f"{kind}.log")
            try:
                with contextlib.suppress(TimeoutError):
                    await emu.wait_until(lambda: ready() or child.proc.returncode is not None, 60)
                if not ready():
                    raise SystemExit(f"{kind} bot did not start:\n{child.tail()}")
                result, window = await _load(kind, opts, emu, replies, child, steps_per_round)
            finally:
                await stop_child(child)
        if kind != "echo":
            result["stages_ms"] = await stages(url, window.samples, replies.fetched)
        return result


async def stages(
    url: str, samples: list[tuple[int, float, float]], fetched: dict[int, float]
) -> dict[str, dict[str, float]]:
    """Where an update's time goes, from the emulator's clock and the bot's inbox.

    The inbox's `processed_at` is the instant the processor took the update in hand (its clock
    is read before the write transaction), so: poll = sent until getUpdates handed it out;
    intake = until the processor took it (inbox write + the chat's queue); handle+deliver =
    until the first reply (the conversation transaction, the outbox, flood pacing, HTTP).
    """
    from sqlalchemy import select

    from storage.db import Database
    from storage.models import Inbox

    ids = [update_id for update_id, _, _ in samples]
    started: dict[int, float] = {}
    db = Database(url)
    try:
        async with db.read() as session:
            for i in range(0, len(ids), 500):  # SQLite's limit on bound parameters
                query = select(Inbox.update_id, Inbox.processed_at).where(
                    Inbox.update_id.in_(ids[i : i + 500])
                )
                for update_id, at in await session.execute(query):
                    if at is not None:
                        at = at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite: naive UTC
                        started[update_id] = at.timestamp()
    finally:
        await db.dispose()
    parts: dict[str, list[float]] = {"poll": [], "intake": [], "handle_deliver": []}
    slowest: list[tuple[float, int, list[float]]] = []
    for update_id, sent, reply in samples:
        got, began = fetched.get(update_id), started.get(update_id)
        if got is None or began is None:
            continue
        split = [got - sent, began - got, reply - began]
        for name, value in zip(parts, split, strict=True):
            parts[name].append(value)
        slowest.append((reply - sent, update_id, split))
    slowest.sort(reverse=True)
    for total, update_id, split in slowest[:3]:  # where the tail comes from
        ms = ", ".join(f"{n} {v * 1000:.0f}" for n, v in zip(parts, split, strict=True))
        print(f"slowest: update {update_id}: {total * 1000:.0f} ms ({ms})", file=sys.stderr)
    return {
        name: {
            "p50": round(percentile(values, 50) * 1000, 1),
            "p95": round(percentile(values, 95) * 1000, 1),
            "mean": round(statistics.fmean(values) * 1000, 1) if values else float("nan"),
        }
        for name, values in parts.items()
    }


async def _load(
    kind: str,
    opts: Options,
    emu: Emulator,
    replies: Replies,
    child: Child,
    steps_per_round: int,
) -> tuple[dict[str, Any], Window]:
    start = time.time()
    warmup_end = start + opts.warmup
    window = Window(
        warmup_end=warmup_end,
        end=None if opts.rounds else warmup_end + opts.seconds,
        rounds_updates=opts.rounds * steps_per_round if opts.rounds else None,
    )
    customers = []
    for n in range(opts.customers):
        user = emu.create_user(FIRST_USER_ID + n, f"Customer {n}", language_code="en")
        customers.append(Customer(emu, replies, window, user, phone(n)))
    if opts.trace:
        customers[0].trace = []
    if kind == "echo":
        flows = [([], ECHO_LOOP) for _ in customers]
    else:
        flows = [bot_flows(n, EXPECT) for n in range(len(customers))]
    tasks = [asyncio.create_task(c.run(*f)) for c, f in zip(customers, flows, strict=True)]

    # CPU of both sides over the window: the figures mean something only if the bot, not the
    # emulator and load generator, is the saturated one.
    await asyncio.sleep(max(0.0, warmup_end - time.time()))
    cpu_bot0, cpu_self0, t0 = cpu_seconds(child.proc.pid), time.process_time(), time.time()
    busy0, pg0 = system_busy_seconds(), postgres_cpu_seconds()
    if window.end is not None:
        await asyncio.sleep(max(0.0, window.end - time.time()))
    else:
        await asyncio.wait(tasks)
    cpu_bot1, cpu_self1, t1 = cpu_seconds(child.proc.pid), time.process_time(), time.time()
    busy1, pg1 = system_busy_seconds(), postgres_cpu_seconds()
    if window.end is None:
        window.end = window.last_reply or t1
    bot_rss = peak_rss_mb(child.proc.pid)
    window.stop.set()
    # Customers finish the step in hand; those stuck behind a long turn are cancelled.
    _, pending = await asyncio.wait(tasks, timeout=5)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

    elapsed = window.end - warmup_end
    end = window.end
    messages = sum(1 for ts in replies.times.values() for t in ts if warmup_end <= t <= end)
    mine = (cpu_bot1 - cpu_bot0) + (cpu_self1 - cpu_self0)
    lat = window.latencies
    stats = emu.stats()
    result: dict[str, Any] = {
        "bot": kind,
        "customers": opts.customers,
        "window_s": round(elapsed, 2),
        "updates": window.replies_in_window,
        "updates_per_s": round(window.replies_in_window / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_ms": {
            "p50": round(percentile(lat, 50) * 1000, 1),
            "p95": round(percentile(lat, 95) * 1000, 1),
            "p99": round(percentile(lat, 99) * 1000, 1),
            "max": round(max(lat, default=float("nan")) * 1000, 1),
        },
        "peak_rss_mb": round(bot_rss, 1),
        "bot_cpu_percent": round(100 * (cpu_bot1 - cpu_bot0) / (t1 - t0), 1),
        "emulator_cpu_percent": round(100 * (cpu_self1 - cpu_self0) / (t1 - t0), 1),
        # Other processes on the machine (of one core): they compete with the two above.
        "other_cpu_percent": round(100 * max(0.0, busy1 - busy0 - mine) / (t1 - t0), 1),
        # The PostgreSQL server's backends (part of "other"): zero on SQLite.
        "postgres_cpu_percent": round(100 * (pg1 - pg0) / (t1 - t0), 1),
        # Every message and edit the bot made in private chats (its outbox paces these).
        "bot_messages_per_s": round(messages / elapsed, 1) if elapsed > 0 else 0.0,
        "messages_per_update": round(messages / window.replies_in_window, 2)
        if window.replies_in_window
        else None,
        "stalls": window.stalls,
        "stall_examples": window.stall_notes,
        "emulator": {
            "calls": stats["calls"],
            "validation_errors": stats["validation_errors"],
            "api_errors": stats["api_errors"],
            "messages_sent": stats["messages_sent"],
            "rate_limit_exceeded": stats["rate_limit_exceeded"],
            "rate_limit_exceeded_global": stats["rate_limit_exceeded_global"],
        },
        "validation_error_examples": [
            f"{e.method}: {e.description}" for e in emu.validation_errors[:5]
        ],
        "api_error_examples": sorted({f"{e.method}: {e.description}" for e in emu.api_errors})[:5],
    }
    if customers[0].trace is not None:
        result["trace"] = customers[0].trace[:30]
    return result, window


# Messages and edits per update in this bot's return flow (its whole turn), so that a
# customer's next update is measured against its own first reply. Checked with --trace.
EXPECT: dict[str, int] = {"confirm": 2, "menu": 1}


# --- report -----------------------------------------------------------------------------------


OVERALL_FLOOD_LIMIT = 25.0  # bot.ratelimit.Limits().overall: the outbox's messages/s ceiling


def verdict(r: dict[str, Any]) -> str:
    if r["emulator_cpu_percent"] >= 90 and r["bot_cpu_percent"] < 80:
        return "EMULATOR-BOUND: the emulator/load process is saturated, not the bot"
    if r["bot_cpu_percent"] >= 85:
        return "bot CPU-bound (one core)"
    if r["bot"] == "bot" and r["bot_messages_per_s"] >= 0.9 * OVERALL_FLOOD_LIMIT:
        return f"at the outbox's overall flood limit ({OVERALL_FLOOD_LIMIT:g} messages/s)"
    return "neither side CPU-saturated nor at a flood limit: the bot waits (I/O, locks, polls)"


def text_report(result: dict[str, Any]) -> str:
    lines = [
        f"machine: {result['machine']}",
        f"cores: {result['cores']}",
        f"database: {result['database']}; {result['customers']} customers, closed loop",
        "",
    ]
    head = f"{'bot':<8}{'upd/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    head += f"{'msg/s':>7}{'RSS MB':>8}{'bot CPU':>9}{'emu CPU':>9}{'other':>7}{'stalls':>8}"
    lines.append(head)
    for r in result["runs"]:
        lat = r["latency_ms"]
        lines.append(
            f"{r['bot']:<8}{r['updates_per_s']:>8}{lat['p50']:>9}{lat['p95']:>9}{lat['p99']:>9}"
            f"{r['bot_messages_per_s']:>7}{r['peak_rss_mb']:>8}{r['bot_cpu_percent']:>8}%"
            f"{r['emulator_cpu_percent']:>8}%{r['other_cpu_percent']:>6}%{r['stalls']:>8}"
        )
    lines.append("")
    lines.append(f"ratio (bot rate / echo rate): {result['ratio']}")
    if result["unpaced_ratio"] is not None:
        pairs = result.get("unpaced_ratios", [])
        each = f", median of the pairs {', '.join(map(str, pairs))}" if len(pairs) > 1 else ""
        lines.append(
            f"ratio without flood limits (unpaced rate / echo rate): {result['unpaced_ratio']}"
            f"{each} (not a production setting: Telegram would answer 429)"
        )
    for r in result["runs"]:
        emu = r["emulator"]
        lines.append(
            f"{r['bot']}: {r['updates']} updates in {r['window_s']} s, "
            f"{r['messages_per_update']} messages+edits per update, PostgreSQL server CPU "
            f"{r['postgres_cpu_percent']}%; {verdict(r)}; emulator: "
            f"{emu['calls']} calls, {emu['validation_errors']} validation errors, "
            f"{emu['api_errors']} api errors, {emu['rate_limit_exceeded']} over flood limits"
        )
        for name, q in r.get("stages_ms", {}).items():
            lines.append(
                f"  {name:<15} p50 {q['p50']:>8} ms  p95 {q['p95']:>8} ms  mean {q['mean']:>8} ms"
            )
        for example in r["validation_error_examples"]:
            lines.append(f"  VALIDATION ERROR {example}")
        for example in r["api_error_examples"]:
            lines.append(f"  api error {example}")
        for note in r["stall_examples"]:
            lines.append(f"  stall: {note}")
        for line in r.get("trace", []):
            lines.append(f"  trace: {line}")
    return "\n".join(lines)


async def run(opts: Options) -> dict[str, Any]:
    os.sched_setaffinity(0, {opts.emu_core})
    kept = contextlib.nullcontext(tempfile.mkdtemp(prefix="telegram-bench-")) if opts.keep else None
    with kept or tempfile.TemporaryDirectory(prefix="telegram-bench-") as tmp:
        if opts.keep:
            print(f"keeping {tmp}", file=sys.stderr)
        if opts.only:  # one bot alone, for quick comparisons while working on it
            runs = [await measure(opts.only, opts, Path(tmp))]
            return {"machine": describe(), "database": opts.database, "runs": runs,
                    "customers": opts.customers, "cores": _cores(opts),
                    "ratio": None, "unpaced_ratio": None}  # fmt: skip
        # The two runs compared most closely go next to each other, `pairs` times over: on a
        # shared machine the speed drifts by more than the differences looked for.
        runs = []
        for n in range(opts.pairs):
            runs.append(await measure("echo", opts, _fresh(tmp, f"echo-{n}")))
            if opts.unpaced:
                runs.append(await measure("unpaced", opts, _fresh(tmp, f"unpaced-{n}")))
        runs.append(await measure("bot", opts, _fresh(tmp, "bot")))
    echoes = [r["updates_per_s"] for r in runs if r["bot"] == "echo"]
    this = next(r for r in runs if r["bot"] == "bot")
    unpaced = [r["updates_per_s"] for r in runs if r["bot"] == "unpaced"]
    pair_ratios = [round(u / e, 3) for u, e in zip(unpaced, echoes, strict=False) if e]
    echo_rate = statistics.median(echoes)
    return {
        "machine": describe(),
        "cores": _cores(opts),
        "database": opts.database,
        "customers": opts.customers,
        "ratio": round(this["updates_per_s"] / echo_rate, 3) if echo_rate else None,
        "unpaced_ratio": round(statistics.median(pair_ratios), 3) if pair_ratios else None,
        "unpaced_ratios": pair_ratios,
        "runs": runs,
    }


def _cores(opts: Options) -> str:
    where = f"emulator + load generator on core {opts.emu_core}, each bot on core {opts.bot_core}"
    if opts.database_core is not None:
        where += f", the PostgreSQL server on core {opts.database_core}"
    return where


def _fresh(tmp: str, name: str) -> Path:
    """A directory of its own per run: its database, evidence and log start empty."""
    path = Path(tmp) / name
    path.mkdir()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=200)
    how_long = parser.add_mutually_exclusive_group()
    how_long.add_argument("--seconds", type=float, default=20.0, help="measuring window per bot")
    how_long.add_argument(
        "--rounds", type=int, help="instead: every customer does N rounds after warm-up"
    )
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url", help="required for postgresql (it is recreated)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--trace", action="store_true", help="show customer 0's turns")
    parser.add_argument(
        "--unpaced",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run this bot with the outbox's flood limits lifted (bench/telegram_unpaced.py)",
    )
    parser.add_argument(
        "--only", choices=["echo", "bot", "unpaced"], help="run just this one bot (no ratios)"
    )
    parser.add_argument(
        "--pairs",
        type=int,
        default=1,
        help="run the echo bot and the unpaced bot N times, one after the other; the unpaced "
        "ratio is the median of the N pairs, the paced ratio uses the echo bot's median",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the bots' logs and SQLite files (path on stderr)"
    )
    parser.add_argument(
        "--database-anywhere",
        action="store_true",
        help="leave a local PostgreSQL server where the scheduler puts it (by default it is "
        "kept on the emulator's core during this bot's runs, off the bot's)",
    )
    args = parser.parse_args()
    if args.database == "postgresql" and not args.database_url:
        parser.error("--database postgresql needs --database-url postgresql+asyncpg://...")
    if args.database == "sqlite" and args.database_url:
        parser.error("--database-url is for --database postgresql (SQLite uses a fresh file)")
    cores = sorted(os.sched_getaffinity(0))
    opts = Options(
        customers=args.customers,
        seconds=args.seconds,
        rounds=args.rounds,
        warmup=args.warmup,
        database=args.database,
        database_url=args.database_url,
        emu_core=cores[0],
        bot_core=cores[1] if len(cores) > 1 else cores[0],
        trace=args.trace,
        unpaced=args.unpaced,
        only=args.only,
        keep=args.keep,
        pairs=max(1, args.pairs),
        database_core=None
        if args.database != "postgresql" or args.database_anywhere or len(cores) < 2
        else cores[0],
    )
    result = asyncio.run(run(opts))
    if args.json:
        # allow_nan=False: an empty sample must not become NaN, which strict parsers reject.
        print(json.dumps(no_nan(result), ensure_ascii=False, indent=2, allow_nan=False))
    else:
        print(text_report(result))


def no_nan(value: Any) -> Any:
    """NaN (a figure without samples) as null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [no_nan(v) for v in value]
    return value


if __name__ == "__main__":
    main()
