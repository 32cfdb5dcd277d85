"""The chaos run: several webhook workers on one PostgreSQL server, customers running whole
flows through a round-robin proxy, and faults thrown in while they do.

Run by `tests/chaos/test_chaos.py` (500 customers, in CI) or by hand for other sizes:
`python -m tests.chaos.load --customers 200 --workers 3`. It prints what it counted (JSON).

Faults: the proxy sends some updates to two workers at once and loses some answers after the
worker stored the update (Telegram sends those again); a random worker is SIGKILLed every few
seconds and started again a second later; the PostgreSQL server is restarted once mid-load.
The bot's flood limits are raised (TELEGRAM_RATE_*) so that the run takes a minute, not an
hour; the limits shared between workers have a test of their own.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.app import SETTLE
from bot.emulator.server import EmulatorServer
from bot.emulator.state import SentMessage, SimUser
from storage import migrate
from storage.db import Database
from storage.import_format import RawRecord
from storage.importer import import_records
from storage.models import Case, Conversation, Inbox, Outbox
from storage.repos.outbox import IN_DOUBT
from tests.chaos.cluster import Cluster
from tests.chaos.proxy import RoundRobin
from tests.e2e.desk import DESK_SETTINGS, GROUP_ID, make_desk

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:" + "C" * 35
SECRET = "chaos-webhook-secret-of-forty-characters"
PATH = "/tg/hook"
FIRST_USER = 800_000_001
STEP_TIMEOUT = 45.0  # a reply later than this: the customer asks again, as a person would
PHOTO = b"\xff\xd8\xff" + b"c" * 3000
UNPACED = {"TELEGRAM_RATE_OVERALL": "100000", "TELEGRAM_RATE_PER_CHAT": "100000",
           "TELEGRAM_RATE_PER_GROUP": "100000"}  # fmt: skip


@dataclass
class Options:
    customers: int = 500
    workers: int = 3
    kill_every: float = 5.0  # seconds between SIGKILLs of a random worker
    restart_after: float = 1.0  # seconds a killed worker stays down
    albums: float = 0.15  # share of customers sending an album instead of one photo
    handoffs: float = 0.1  # share of customers asking for a person
    duplicate: float = 0.03  # share of deliveries the proxy sends to two workers
    lose_answer: float = 0.03  # share of stored updates whose 200 the proxy loses
    seed: int = 7
    timeout: float = 600.0
    kills: bool = True
    postgres_restart: bool = True


@dataclass
class Tally:
    kills: int = 0
    postgres_restarts: int = 0
    retries: int = 0  # steps a customer had to ask again for
    crashes: int = 0  # workers that exited without being killed
    retried: Counter[str] = field(default_factory=Counter)  # by the reply they waited for
    finished: int = 0
    stuck: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # kills and the restart, with their time


def stamp() -> str:
    """Wall-clock time as the database stores it, to line a customer's tries up with rows."""
    return _hms(datetime.now(UTC))


# --- customers ----------------------------------------------------------------------------------


class Watch:
    """Per-chat waiters woken by the bot's messages and edits in that chat only."""

    def __init__(self) -> None:
        self._events: dict[int, asyncio.Event] = {}
        self.calls: Counter[int] = Counter()  # the bot's messages and edits, per chat

    def hit(self, chat_id: int) -> None:
        self.calls[chat_id] += 1
        event = self._events.get(chat_id)
        if event is not None:
            event.set()

    async def until(self, chat_id: int, check: Any, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        event = self._events.setdefault(chat_id, asyncio.Event())
        while not check():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), min(remaining, 1.0))
        return True


def observe(emu: Any, watch: Watch) -> None:
    execute = emu.execute

    async def watched(method: str, params: dict[str, Any], files: dict[str, Any]) -> Any:
        status, body = await execute(method, params, files)
        if body.get("ok"):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                watch.hit(int(params["chat_id"]))
        return status, body

    emu.execute = watched


class Shopper:
    """One customer: a whole return (one photo or an album), or a question to a person."""

    def __init__(self, n: int, emu: Any, watch: Watch, tally: Tally, desk: Any,
                 rng: random.Random, opts: Options) -> None:  # fmt: skip
        self.n = n
        self.emu = emu
        self.watch = watch
        self.tally = tally
        self.desk = desk
        self.user: SimUser = emu.create_user(FIRST_USER + n, f"Shopper {n}", language_code="en")
        roll = rng.random()
        self.kind = ("handoff" if roll < opts.handoffs else
                     "album" if roll < opts.handoffs + opts.albums else "photo")  # fmt: skip
        self.done = False
        self.trail: list[str] = []  # what the customer did and when, for a stuck one's timeline

    def _versions(self) -> dict[int, int]:
        return {m.message_id: len(m.history) for m in self.emu.sent_messages(self.user.id)}

    def _fresh(self, before: dict[int, int]) -> list[SentMessage]:
        return [m for m in self.emu.sent_messages(self.user.id, include_deleted=False)
                if m.message_id not in before or len(m.history) > before[m.message_id]]  # fmt: skip

    def _button(self, label: str) -> tuple[SentMessage, str] | None:
        for message in reversed(self.emu.sent_messages(self.user.id, include_deleted=False)):
            for button in message.buttons:
                if label in button.get("text", "") and "callback_data" in button:
                    return message, button["callback_data"]
        return None

    async def step(self, act: Any, expect: str) -> None:
        """Do `act` until a reply says `expect` (in its text or on a button)."""
        for _attempt in range(3):
            before = self._versions()
            self.trail.append(f"{stamp()} try {_attempt + 1}, waiting for {expect!r}")
            await act()

            def arrived(before: dict[int, int] = before) -> bool:
                return any(expect in (m.text or "") or any(expect in b.get("text", "")
                           for b in m.buttons) for m in self._fresh(before))  # fmt: skip

            if await self.watch.until(self.user.id, arrived, STEP_TIMEOUT):
                return
            self.tally.retries += 1
            self.tally.retried[expect] += 1
        raise LookupError(
            f"shopper {self.n} ({self.kind}): no {expect!r} after 3 tries; "
            f"last: {[m.text for m in self.emu.sent_messages(self.user.id)][-2:]}"
        )

    async def burst(self) -> None:
        """Three commands at once, as an impatient customer taps: three deliveries in
        parallel, likely to different workers; they must be handled in their order. The
        customer then waits for the three answers (a tap on the first menu once the third
        has come is out of date, and would be retried after STEP_TIMEOUT)."""
        calls = self.watch.calls[self.user.id]

        async def three() -> None:
            for _ in range(3):
                await self.emu.user_sends_text(self.user, "/menu")

        await self.step(three, "New request")
        if not await self.watch.until(
            self.user.id, lambda: self.watch.calls[self.user.id] >= calls + 3, STEP_TIMEOUT
        ):
            self.tally.retries += 1
            self.tally.retried["three menus"] += 1

    def say(self, text: str) -> Any:
        return lambda: self.emu.user_sends_text(self.user, text)

    def tap(self, label: str) -> Any:
        async def press() -> None:
            found = self._button(label)
            if found is None:
                raise LookupError(f"shopper {self.n}: no button {label!r}")
            await self.emu.user_clicks(self.user, found[0], found[1], strict=False)

        return press

    async def run(self) -> None:
        emu, user = self.emu, self.user
        try:
            await self.step(self.say("/start"), "share your phone number")
            await self.step(lambda: emu.user_sends_contact(user, phone(self.n)), "New request")
            await self.burst()
            if self.kind == "handoff":
                await self.handoff()
            else:
                await self.request()
            self.done = True
            self.tally.finished += 1
        except LookupError as problem:
            self.tally.stuck.append(str(problem))

    async def request(self) -> None:
        emu, user = self.emu, self.user
        await self.step(self.tap("New request"), "order")
        await self.step(self.say(order_no(self.n)), "Return and refund")
        await self.step(self.tap("Return and refund"), "Quality problem")
        await self.step(self.tap("Quality problem"), "escribe")
        await self.step(self.say("The screen flickers after ten minutes"), "photo")
        if self.kind == "album":
            photos = [PHOTO + bytes([k]) * 10 for k in range(3)]
            await self.step(lambda: emu.user_sends_album(user, photos), "Done")
        else:
            await self.step(lambda: emu.user_sends_photo(user, PHOTO), "Done")
        await self.step(self.tap("Done"), "Confirm")
        await self.step(self.tap("Confirm"), "AS-")

    async def handoff(self) -> None:
        await self.step(self.say("/human"), "What would you like to ask?")
        question = f"Question {self.n}: the box smelled of smoke when it came"
        before = self._versions()
        await self.emu.user_sends_text(self.user, question)

        def answered(before: dict[int, int] = before) -> bool:
            fresh = self._fresh(before)
            return any("A person will answer here" in (m.text or "") for m in fresh) or any(
                "Talk to a person" in b.get("text", "") for m in fresh for b in m.buttons
            )

        if not await self.watch.until(self.user.id, answered, STEP_TIMEOUT):
            raise LookupError(f"shopper {self.n}: no answer to the question")
        if not any("A person will answer here" in (m.text or "") for m in self._fresh(before)):
            await self.step(self.tap("Talk to a person"), "A person will answer here")
        topic = await self._topic(question)
        words = f"Hello shopper {self.n}, this is the desk"
        await self.step(lambda: self.emu.member_sends_text(self.desk.group, self.desk.lin, words,
                                                           thread_id=topic), words)  # fmt: skip

    async def _topic(self, question: str) -> int:
        def card() -> int | None:
            for m in self.emu.sent_messages(GROUP_ID, include_deleted=False):
                if question in (m.text or "") and m.thread_id is not None:
                    return m.thread_id
            return None

        if not await self.watch.until(GROUP_ID, lambda: card() is not None, STEP_TIMEOUT * 2):
            raise LookupError(f"shopper {self.n}: no topic for the question")
        found = card()
        assert found is not None
        return found


def phone(n: int) -> str:
    return f"+86139{n:08d}"


def order_no(n: int) -> str:
    return f"CH{n:07d}"


def orders(customers: int, now: datetime) -> list[RawRecord]:
    delivered = now - timedelta(days=3)
    return [RawRecord(n + 1, {
        "order_no": order_no(n),
        "customer": {"phone": phone(n), "name": f"Shopper {n}", "language": "en"},
        "placed_at": (delivered - timedelta(days=3)).isoformat(),
        "paid_at": (delivered - timedelta(days=3)).isoformat(),
        "shipped_at": (delivered - timedelta(days=2)).isoformat(),
        "delivered_at": delivered.isoformat(),
        "status": "delivered", "payment_method": "online", "currency": "CNY",
        "shipping_fee": "0.00",
        "items": [{"sku": "PH-001", "name": "Phone X", "category": "electronics",
                   "quantity": 1, "unit_price": "1999.00"}],
    }) for n in range(customers)]  # fmt: skip


# --- workers --------------------------------------------------------------------------------


class Workers:
    def __init__(self, ports: list[int], env: dict[str, str], logs: Path) -> None:
        self.ports = ports
        self.env = env
        self.logs = logs
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self._starts = 0

    async def start(self, port: int) -> None:
        self._starts += 1
        out = (self.logs / f"worker-{port}-{self._starts}.log").open("wb")
        self.procs[port] = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", "--webhook", "--host", "127.0.0.1",
            "--port", str(port), env=self.env, cwd=ROOT, stdin=asyncio.subprocess.DEVNULL,
            stdout=out, stderr=out,
        )  # fmt: skip
        out.close()

    def kill(self, port: int) -> None:
        proc = self.procs.get(port)
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGKILL)

    async def stop_all(self) -> list[int | None]:
        codes = []
        for proc in self.procs.values():
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            try:
                codes.append(await asyncio.wait_for(proc.wait(), 30))
            except TimeoutError:
                proc.kill()
                codes.append(await proc.wait())
        return codes

    def log_tail(self, lines: int = 40) -> str:
        newest = sorted(self.logs.glob("worker-*.log"), key=lambda p: p.stat().st_mtime)[-1:]
        return "\n".join(p.read_text(errors="replace").splitlines()[-lines:][0:lines]
                         for p in newest)  # fmt: skip


async def chaos(workers: Workers, cluster: Cluster, opts: Options, tally: Tally,
                stop: asyncio.Event, rng: random.Random) -> None:  # fmt: skip
    """SIGKILL a random worker now and then (started again after a moment); restart the
    PostgreSQL server once, a third of the way in."""
    restart_at = time.monotonic() + opts.kill_every * 2.5
    while not stop.is_set() and (opts.kills or opts.postgres_restart):
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), opts.kill_every)
        if stop.is_set():
            return
        if (
            opts.postgres_restart
            and not tally.postgres_restarts
            and (time.monotonic() >= restart_at)
        ):
            tally.events.append(f"{stamp()} PostgreSQL restart begins")
            await asyncio.to_thread(cluster.restart)
            tally.postgres_restarts += 1
            tally.events.append(f"{stamp()} PostgreSQL restarted")
            continue
        if not opts.kills:
            continue
        # One down at a time: wait while the last one killed is still starting. A worker
        # that exited by itself is a fault of the bot: counted, and started again as a
        # supervisor would.
        while not all([await _listening(p) for p in workers.ports]):
            for port, proc in list(workers.procs.items()):
                if proc.returncode is not None:
                    tally.crashes += 1
                    await workers.start(port)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
            if stop.is_set():
                return
        if stop.is_set():
            return
        port = rng.choice(workers.ports)
        workers.kill(port)
        tally.kills += 1
        tally.events.append(f"{stamp()} worker on port {port} killed")
        await asyncio.sleep(opts.restart_after)
        await workers.start(port)


async def _listening(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


# --- the run ----------------------------------------------------------------------------------


async def run(opts: Options) -> dict[str, Any]:
    rng = random.Random(opts.seed)
    tmp = Path(tempfile.mkdtemp(prefix="chaos-"))
    cluster = Cluster()
    await asyncio.to_thread(cluster.start)
    try:
        return await _run(opts, rng, tmp, cluster)
    finally:
        if os.environ.get("CHAOS_KEEP"):  # to look into the database after a run
            print(f"kept: {cluster.url}", file=sys.stderr)
        else:
            await asyncio.to_thread(cluster.stop)


async def _run(opts: Options, rng: random.Random, tmp: Path, cluster: Cluster) -> dict[str, Any]:
    url = cluster.url
    await asyncio.to_thread(migrate.upgrade, url)
    db = Database(url, pool_pre_ping=True)  # the server restarts under it
    report = await import_records(db, orders(opts.customers, datetime.now(UTC)), source="chaos",
                                  now=datetime.now(UTC))  # fmt: skip
    assert report.ok, report.summary()
    ports = [_free_port() for _ in range(opts.workers)]
    tally = Tally()
    async with EmulatorServer(check_results=False) as server:
        emu = server.emulator
        watch = Watch()
        observe(emu, watch)
        desk = make_desk(emu)
        proxy = RoundRobin(ports, PATH, duplicate=opts.duplicate, lose_answer=opts.lose_answer,
                           seed=opts.seed)  # fmt: skip
        hook = await proxy.start()
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "BOT_TOKEN": TOKEN,
               "TELEGRAM_API_BASE": server.base_url, "DATABASE_URL": url,
               "WEBHOOK_URL": hook, "WEBHOOK_SECRET": SECRET,
               "EVIDENCE_DIR": str(tmp / "evidence"), "DEFAULT_LOCALE": "en",
               "LINK_SECRET": "chaos-link-secret-not-for-production",
               "AGENT_CHAT_IDS": ",".join(str(i) for i in DESK_SETTINGS["agent_chat_ids"]),
               "AGENT_IDS": ",".join(str(i) for i in DESK_SETTINGS["agent_ids"]),
               "SUPERVISOR_IDS": ",".join(str(i) for i in DESK_SETTINGS["supervisor_ids"]),
               **UNPACED}  # fmt: skip
        workers = Workers(ports, env, tmp)
        try:
            for port in ports:
                await workers.start(port)
            await emu.wait_until(lambda: bool(emu.webhook.active), 180)
            shoppers = [Shopper(n, emu, watch, tally, desk, rng, opts)
                        for n in range(opts.customers)]  # fmt: skip
            stop = asyncio.Event()
            started = time.monotonic()
            faults = asyncio.create_task(chaos(workers, cluster, opts, tally, stop, rng))
            tasks = []
            for shopper in shoppers:  # they arrive over a few seconds, not all in one instant
                tasks.append(asyncio.create_task(shopper.run()))
                await asyncio.sleep(0.01)
            _, late = await asyncio.wait(tasks, timeout=opts.timeout)
            for task in late:
                task.cancel()
            stop.set()
            await faults
            load_seconds = time.monotonic() - started
            quiet = await _quiescent(db, emu, 120)
        finally:
            codes = await workers.stop_all()
            await proxy.stop()
        counts = await _counts(db, emu, shoppers)
    await db.dispose()
    return {
        "customers": opts.customers,
        "workers": opts.workers,
        "kinds": {k: sum(1 for s in shoppers if s.kind == k) for k in ("photo", "album",
                                                                        "handoff")},
        "load_seconds": round(load_seconds, 1),
        "updates_per_second": round(counts["updates_delivered"] / load_seconds, 1),
        "quiescent": quiet,
        "worker_exit_codes": codes,
        "worker_crashes": tally.crashes,
        "faults": {"sigkills": tally.kills, "postgres_restarts": tally.postgres_restarts,
                   "duplicated_deliveries": proxy.stats.duplicated,
                   "answers_lost": proxy.stats.answers_lost,
                   "webhook_redeliveries": counts.pop("redeliveries")},
        "finished": tally.finished,
        "customer_retries": tally.retries,
        "customer_retries_by_step": dict(tally.retried),
        "stuck": tally.stuck[:5],
        "stuck_count": len(tally.stuck),
        "fault_times": tally.events,
        **counts,
        "logs": str(tmp),
    }  # fmt: skip


async def _quiescent(db: Database, emu: Any, seconds: float) -> bool:
    """Wait until nothing is left to deliver, to handle or to send."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with db.read() as s:
            inbox = await s.scalar(select(func.count()).where(Inbox.status == "pending"))
            outbox = await s.scalar(
                select(func.count()).where(Outbox.status.in_(("pending", "sending")))
            )
        if not inbox and not outbox and emu.webhook.pending_count() == 0:
            return True
        await asyncio.sleep(0.5)
    return False


async def _counts(db: Database, emu: Any, shoppers: list[Shopper]) -> dict[str, Any]:
    attempts = emu.webhook.stats.attempts
    delivered = {a.update_id for a in attempts if a.ok}
    redeliveries = len(attempts) - len({a.delivery for a in attempts})
    async with db.read() as s:
        inbox = (await s.execute(select(Inbox.lane, Inbox.update_id, Inbox.status,
                                        Inbox.received_at, Inbox.processed_at))).all()  # fmt: skip
        stored = {(r.update_id, r.status) for r in inbox}
        rows = (
            await s.execute(
                select(
                    Outbox.chat_id,
                    Outbox.id,
                    Outbox.status,
                    Outbox.error,
                    Outbox.payload,
                    Outbox.telegram_message_id,
                )
            )
        ).all()
        cases = (await s.execute(select(Case.chat_id, func.count()).group_by(Case.chat_id))).all()
        states = dict((await s.execute(select(Conversation.chat_id,
                                              Conversation.state))).all())  # fmt: skip
    done = {u for u, status in stored if status == "done"}
    per_update = {}
    for u, _ in stored:
        per_update[u] = per_update.get(u, 0) + 1
    case_count = dict(cases)
    sent_twice = out_of_order = in_doubt = 0
    by_chat: dict[int, list[Any]] = {}
    for row in rows:
        by_chat.setdefault(row.chat_id, []).append(row)
    doubtful_chats = {r.chat_id for r in rows if r.status == "failed" and r.error == IN_DOUBT}
    # Given up for another reason: Telegram here refuses nothing, so each is a message lost.
    gave_up = [
        f"{r.chat_id}: {r.error}" for r in rows if r.status == "failed" and r.error != IN_DOUBT
    ]
    # A conversation can stop short only where a message to it was in doubt (a worker killed
    # mid-call: never sent again); anything else stuck is a fault of the bot.
    stuck_without_doubt = [
        s.n for s in shoppers if not s.done and s.user.id not in doubtful_chats
        and not (s.kind == "handoff" and GROUP_ID in doubtful_chats)
    ]  # fmt: skip
    for shopper in shoppers:
        chat = shopper.user.id
        mine = sorted(by_chat.get(chat, []), key=lambda r: r.id)
        new = [r for r in mine if _creates_message(r.payload)]
        doubt = [r for r in new if r.status == "failed" and r.error == IN_DOUBT]
        in_doubt += len(doubt)
        sent = [r for r in new if r.status == "sent"]
        made = len(emu.sent_messages(chat, include_deleted=True))
        sent_twice += max(0, made - len(sent) - len(doubt))
        ids = [r.telegram_message_id for r in sent if r.telegram_message_id is not None]
        out_of_order += sum(1 for a, b in itertools.pairwise(ids) if b <= a)
    handled: dict[int, list[tuple[Any, int]]] = {}
    arrived = {r.update_id: r.received_at for r in inbox}
    for r in inbox:
        if r.status == "done" and r.lane is not None:
            handled.setdefault(r.lane, []).append((r.processed_at, r.update_id))
    handled_out_of_order = 0
    # Of those, the earlier update reached the bot after the wait for it was over: more than
    # SETTLE after the first update above it was stored (of any chat: that one noticed the
    # hole and waited for it; the bot does not wait twice for one missing id).
    late = 0
    reorders: list[str] = []
    for lane, turns in handled.items():
        for (ta, a), (tb, b) in itertools.pairwise(sorted(turns)):
            if b < a:
                handled_out_of_order += 1
                behind = (arrived[b] - arrived[a]).total_seconds()
                noticed = min(arrived[u] for u in range(b + 1, a + 1) if u in arrived)
                overdue = (arrived[b] - noticed).total_seconds()
                late += overdue > SETTLE
                reorders.append(f"chat {lane}: {b} handled {(tb - ta).total_seconds():.2f} s "
                                f"after {a}, stored {behind:.2f} s after it and {overdue:.2f} s "
                                f"after the first id above it")  # fmt: skip
    wrong_end = [
        f"{s.n} {s.kind}: {states.get(s.user.id)}, {case_count.get(s.user.id)} cases"
        for s in shoppers
        if s.done and not _ended_right(s, states, case_count)
    ]
    return {
        "updates_delivered": len(delivered),
        "redeliveries": redeliveries,
        "lost_updates": len(delivered - done),
        "updates_stored_twice": sum(1 for c in per_update.values() if c > 1),
        "updates_failed": sum(1 for _, status in stored if status == "failed"),
        "duplicate_cases": sum(max(0, c - 1) for c in case_count.values()),
        "messages_sent_twice": sent_twice,
        "messages_in_doubt": in_doubt,
        "messages_given_up": len(gave_up),
        "messages_given_up_examples": gave_up[:5],
        "out_of_order_replies": out_of_order,
        "handled_out_of_order": handled_out_of_order,
        "handled_out_of_order_examples": reorders[:5],
        "handled_out_of_order_late": late,
        "stuck_without_doubt": stuck_without_doubt[:10],
        "ended_wrong": len(wrong_end),
        "ended_wrong_examples": wrong_end[:5],
        "stuck_timelines": {
            s.n: await _timeline(db, s) for s in shoppers if s.n in stuck_without_doubt[:3]
        },
    }


async def _timeline(db: Database, shopper: Shopper) -> list[str]:
    """A stuck customer's tries, updates and the bot's messages in time order: where it hung."""
    chat = shopper.user.id
    async with db.read() as s:
        inbox = (
            await s.execute(
                select(Inbox.update_id, Inbox.status, Inbox.received_at, Inbox.processed_at).where(
                    Inbox.chat_id == chat
                )
            )
        ).all()
        outbox = (
            await s.execute(
                select(
                    Outbox.id,
                    Outbox.status,
                    Outbox.created_at,
                    Outbox.sent_at,
                    Outbox.attempts,
                    Outbox.error,
                    Outbox.payload,
                ).where(Outbox.chat_id == chat)
            )
        ).all()
    lines = list(shopper.trail)
    for r in inbox:
        lines.append(f"{_hms(r.received_at)} update {r.update_id} stored; {r.status} at "
                     f"{_hms(r.processed_at)}")  # fmt: skip
    for r in outbox:
        text = str(r.payload.get("text") or r.payload.get("kind"))[:40]
        lines.append(f"{_hms(r.created_at)} outbox {r.id} {text!r}: {r.status} at "
                     f"{_hms(r.sent_at)} (attempts {r.attempts}, {r.error})")  # fmt: skip
    return sorted(lines)


def _hms(at: datetime | None) -> str:
    return at.strftime("%H:%M:%S.%f")[:-3] if at else "-"


def _creates_message(payload: dict[str, Any]) -> bool:
    kind = payload.get("kind")
    return kind == "copy" or (kind in ("message", "photo", "media") and
                              not payload.get("edit_message_id"))  # fmt: skip


def _ended_right(shopper: Shopper, states: dict[int, str], cases: dict[int, int]) -> bool:
    """A return: one case, the conversation back at the menu; a question: with the person."""
    state = states.get(shopper.user.id)
    if shopper.kind == "handoff":
        return state == "with_agent" and cases.get(shopper.user.id) == 1
    return cases.get(shopper.user.id) == 1 and state in ("menu", "case_done")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kill-every", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-faults",
        action="store_true",
        help="no kills, no restart, no duplicates: how fast N workers go",
    )
    args = parser.parse_args()
    opts = Options(customers=args.customers, workers=args.workers, kill_every=args.kill_every,
                   seed=args.seed)  # fmt: skip
    if args.no_faults:
        opts.kills = opts.postgres_restart = False
        opts.duplicate = opts.lose_answer = 0.0
    print(json.dumps(asyncio.run(run(opts)), indent=2))


if __name__ == "__main__":
    main()
