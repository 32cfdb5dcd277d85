"""Reply latency at a realistic load, Telegram's pace kept: update queued → first reply.

    .venv/bin/python -m bench.latency_bench [--customers 30] [--interval 2] [--jitter 0.25]
        [--seconds 60] [--warmup 20] [--database sqlite|postgresql] [--database-url URL]
        [--webhook] [--runs N] [--json] [--keep]

The real bot (`python -m bot.cli run`, or `run --webhook`, the production code path, in its
own process pinned to one core) talks over HTTP through aiogram to the local Bot API emulator,
which runs here with the load generator and enforces Telegram's flood limits (a message over
them is answered 429 and counted). The bot keeps its default `TELEGRAM_RATE_*` settings (25
messages/s overall, 1/s per private chat with bursts of 3): the bench removes any such
variable from the bot's environment.

Each of `--customers` simulated customers goes through the return flow of
`bench.telegram_bench` (/start, contact, New request, order, Return, Quality, description,
photo, Done, Confirm, then again from /menu) acting every `--interval` seconds, each wait
drawn uniformly from interval × (1 ± jitter), the customers' first actions spread over one
interval. A customer acts only once the bot has finished its previous turn (it needs the
turn's buttons); an action that would have been due earlier is counted as "late".

Latency of an action: from the update being queued in the emulator (its `enqueue`) to the
first message or edit the bot makes in that chat afterwards (timestamped when the emulator has
handled the call). Actions queued within `--warmup` seconds of the start are not counted.
With `--runs N` the load runs N times, each on a fresh database, and the medians of the runs'
figures are reported too.

Where the slow ones spent their time is printed on stderr (from the inbox's `processed_at`:
poll = queued until getUpdates or the webhook handed it out; intake = until the processor took
it in hand; handle_deliver = until the first reply).

For PostgreSQL the database named in `--database-url` is dropped and created again (not
`test`, `test_gw*` or `postgres`), e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/latency_bench.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import json
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.machine import describe
from bench.telegram_bench import (
    EXPECT,
    FIRST_USER_ID,
    TOKEN,
    Customer,
    Replies,
    Step,
    Window,
    bot_flows,
    no_nan,
    observe,
    percentile,
    phone,
    prepare_database,
    spawn,
    stages,
    stop_child,
)
from bot.emulator.emulator import Emulator
from bot.emulator.server import EmulatorServer

WEBHOOK_SECRET = "latency-bench-webhook-secret-0123456789"
TAIL_MS = 100.0  # the target: p99 at most this


@dataclass
class Options:
    customers: int
    interval: float
    jitter: float
    seconds: float
    warmup: float
    database: str
    database_url: str | None
    webhook: bool
    probe: bool
    emu_core: int
    bot_core: int
    keep: bool


class PacedCustomer(Customer):
    """A customer of `bench.telegram_bench` who acts every `interval` seconds (with jitter)
    instead of at once, and only once the bot's previous turn is complete."""

    def __init__(self, *args: Any, rng: random.Random, opts: Options, start: float) -> None:
        super().__init__(*args)
        self.rng = rng
        self.opts = opts
        self.next_at = start
        self.late = 0

    def _gap(self) -> float:
        j = self.opts.jitter
        return self.opts.interval * self.rng.uniform(1 - j, 1 + j)

    async def run(self, first: list[Step], loop: list[Step]) -> None:
        steps = [*first, *loop]
        try:
            for step in steps:
                wait = self.next_at - time.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                elif wait < -0.05:
                    self.late += 1
                if self.done():
                    return
                await self.do(step)
                self.next_at += self._gap()
        except LookupError as error:
            self.window.stalls += 1
            if len(self.window.stall_notes) < 5:
                self.window.stall_notes.append(str(error))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bot_env(opts: Options, base_url: str, url: str, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TELEGRAM_RATE_")}
    env.update(
        PYTHONUNBUFFERED="1",
        BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE=base_url,
        DATABASE_URL=url,
        EVIDENCE_DIR=str(tmp / "evidence"),
        DEFAULT_LOCALE="en",
        LINK_SECRET="bench-link-secret-not-for-production",
    )
    return env


async def one_run(opts: Options, tmp: Path, seed: int) -> dict[str, Any]:
    async with EmulatorServer(check_results=False, enforce_rate_limits=True) as server:
        emu: Emulator = server.emulator
        replies = Replies()
        observe(emu, replies)
        queued: dict[int, float] = {}
        enqueue = emu.enqueue

        def timed_enqueue(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
            at = time.time()
            update = enqueue(kind, payload)
            queued[update["update_id"]] = at
            with contextlib.suppress(KeyError, TypeError):
                chat = (payload.get("chat") or payload["message"]["chat"])["id"]
                _update_chats[update["update_id"]] = int(chat)
            return update

        emu.enqueue = timed_enqueue  # type: ignore[method-assign]
        url = opts.database_url or f"sqlite+aiosqlite:///{tmp / 'bot.db'}"
        await prepare_database(url, opts.customers)
        env = bot_env(opts, server.base_url, url, tmp)
        probe = tmp / "probe.jsonl"
        if opts.probe:
            env["LATENCY_PROBE"] = str(probe)
        argv = [sys.executable, "-m", "bench.latency_probe" if opts.probe else "bot.cli", "run"]
        if opts.webhook:
            port = free_port()
            env.update(WEBHOOK_URL=f"http://127.0.0.1:{port}/tg/hook",
                       WEBHOOK_SECRET=WEBHOOK_SECRET)  # fmt: skip
            argv += ["--webhook", "--host", "127.0.0.1", "--port", str(port)]

        def ready() -> bool:
            started = emu.calls_to("setWebhook") if opts.webhook else emu.calls_to("getUpdates")
            return len(emu.calls_to("setMyCommands")) >= 3 and bool(started)

        child = await spawn("bot", argv, env, opts.bot_core, tmp / "bot.log")
        try:
            with contextlib.suppress(TimeoutError):
                await emu.wait_until(lambda: ready() or child.proc.returncode is not None, 60)
            if not ready():
                raise SystemExit(f"the bot did not start:\n{child.tail()}")
            result, window = await load(opts, emu, replies, seed)
        finally:
            await stop_child(child)
        # Latency from the update's queueing (not from the customer's call).
        samples = [
            (u, at, reply)
            for u, sent, reply in window.samples
            if (at := queued.get(u, sent)) >= window.warmup_end
        ]
        lat = [reply - sent for _, sent, reply in samples]
        result["latency_ms"] = summary(lat)
        result["over_target"] = sum(1 for v in lat if v * 1000 > TAIL_MS)
        fetched = dict(replies.fetched)
        for attempt in emu.webhook.stats.attempts:  # webhook mode: when it was delivered
            fetched.setdefault(attempt.update_id, attempt.at)
        result["stages_ms"] = await stages(url, samples, fetched)
        if opts.probe:
            result["probe"] = analyse_probe(probe, samples)
        return result


PARTS = ("to_unit", "unit", "pickup", "limiter", "call")


def analyse_probe(path: Path, samples: list[tuple[int, float, float]]) -> dict[str, Any]:
    """Each action's time split by the bot's own timestamps (`bench/latency_probe.py`):
    to_unit = queued until its unit of work began (poll, intake, the batcher's queue); unit =
    the unit of work to its commit; pickup = commit until the outbox began sending the chat's
    row; limiter = the flood limiter's wait; call = the rest, until the emulator had the
    message."""
    units: dict[int, list[tuple[float, float]]] = {}
    sends: dict[int, list[float]] = {}
    acquires: dict[int, list[tuple[float, float]]] = {}
    wakes: list[float] = []
    pauses: dict[str, list[tuple[float, float]]] = {"lag": [], "gc": [], "commit": []}
    for raw in path.read_text().splitlines():
        event = json.loads(raw)
        kind = event["kind"]
        if kind in ("run_many", "run"):
            for lane in event["lanes"]:
                units.setdefault(lane, []).append((event["end"], event["start"]))
        elif kind == "send":
            sends.setdefault(event["chat"], []).append(event["start"])
        elif kind == "acquire":
            acquires.setdefault(event["chat"], []).append((event["start"], event["end"]))
        elif kind == "wake":
            wakes.append(event["at"])
        elif kind in pauses:
            pauses[kind].append((event["start"], event["end"]))
    for table in (units, sends, acquires):
        for values in table.values():
            values.sort()
    wakes.sort()
    chat_of = _update_chats
    splits: list[tuple[float, int, dict[str, float], int, list[str]]] = []
    for update_id, queued, reply in samples:
        chat = chat_of.get(update_id)
        if chat is None:
            continue
        ends = units.get(chat, [])
        i = bisect.bisect_left(ends, (queued,))
        if i == len(ends) or ends[i][0] > reply + 0.05:
            continue
        committed, began = ends[i]
        starts = sends.get(chat, [])
        j = bisect.bisect_left(starts, committed - 0.002)
        sent = starts[j] if j < len(starts) and starts[j] <= reply else committed
        waits = acquires.get(chat, [])
        k = bisect.bisect_left(waits, (sent,))
        limiter = waits[k][1] - waits[k][0] if k < len(waits) and waits[k][1] <= reply else 0.0
        part = {
            "to_unit": began - queued,
            "unit": committed - began,
            "pickup": max(0.0, sent - committed),
            "limiter": limiter,
            "call": max(0.0, reply - sent - limiter),
        }
        woken = bisect.bisect_right(wakes, sent) - bisect.bisect_left(wakes, committed - 0.002)
        during = [
            f"{kind} {(b - a) * 1000:.0f} ms"
            for kind, spans in pauses.items()
            for a, b in spans
            if a < reply and b > queued
        ]
        splits.append((reply - queued, update_id, part, woken, during))
    splits.sort(reverse=True)
    slow = [s for s in splits if s[0] * 1000 > TAIL_MS]
    report: dict[str, Any] = {
        "matched": len(splits),
        "all": {p: summary([s[2][p] for s in splits]) for p in PARTS},
        "slow_count": len(slow),
        "slow_mean_ms": {
            p: round(statistics.fmean(s[2][p] for s in slow) * 1000, 1) if slow else None
            for p in PARTS
        },
        "pauses": {
            kind: {
                "count": len(spans),
                "max_ms": round(max((b - a for a, b in spans), default=0.0) * 1000, 1),
            }
            for kind, spans in pauses.items()
        },
        "slowest": [
            f"update {u}: {total * 1000:.0f} ms = "
            + ", ".join(f"{p} {v * 1000:.0f}" for p, v in part.items())
            + f" (wakes between commit and send: {woken}; meanwhile: {', '.join(during) or '-'})"
            for total, u, part, woken, during in splits[:8]
        ],
    }
    return report


_update_chats: dict[int, int] = {}  # update id -> the customer's chat (filled while queueing)


def summary(values: list[float]) -> dict[str, float]:
    return {
        "count": len(values),
        "p50": round(percentile(values, 50) * 1000, 1),
        "p90": round(percentile(values, 90) * 1000, 1),
        "p99": round(percentile(values, 99) * 1000, 1),
        "max": round(max(values, default=float("nan")) * 1000, 1),
    }


async def load(
    opts: Options, emu: Emulator, replies: Replies, seed: int
) -> tuple[dict[str, Any], Window]:
    rng = random.Random(seed)
    start = time.time()
    window = Window(warmup_end=start + opts.warmup, end=None, rounds_updates=None)
    customers: list[PacedCustomer] = []
    for n in range(opts.customers):
        user = emu.create_user(FIRST_USER_ID + n, f"Customer {n}", language_code="en")
        first_at = start + rng.uniform(0, opts.interval)
        customers.append(PacedCustomer(emu, replies, window, user, phone(n), rng=rng,
                                       opts=opts, start=first_at))  # fmt: skip
    tasks = [asyncio.create_task(c.run(*bot_flows(n, EXPECT))) for n, c in enumerate(customers)]
    await asyncio.sleep(max(0.0, start + opts.warmup + opts.seconds - time.time()))
    window.stop.set()  # customers finish the step in hand (its reply still counts)
    _, pending = await asyncio.wait(tasks, timeout=REPLY_GRACE)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    window.end = time.time()
    stats = emu.stats()
    result: dict[str, Any] = {
        "stalls": window.stalls,
        "stall_examples": window.stall_notes,
        "late_actions": sum(c.late for c in customers),
        "actions": sum(c.measured for c in customers),
        "emulator": {
            "calls": stats["calls"],
            "messages_sent": stats["messages_sent"],
            "answered_429": stats["rate_limit_exceeded"],
            "answered_429_global": stats["rate_limit_exceeded_global"],
            "validation_errors": stats["validation_errors"],
            "api_errors": stats["api_errors"],
        },
        "validation_error_examples": [
            f"{e.method}: {e.description}" for e in emu.validation_errors[:5]
        ],
    }
    return result, window


REPLY_GRACE = 10.0


def medians(runs: list[dict[str, Any]]) -> dict[str, float]:
    keys = ("p50", "p90", "p99", "max", "count")
    return {k: round(statistics.median(r["latency_ms"][k] for r in runs), 1) for k in keys}


def load_average() -> str:
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


async def run(opts: Options, runs: int) -> dict[str, Any]:
    os.sched_setaffinity(0, {opts.emu_core})
    results = []
    with contextlib.ExitStack() as stack:
        if opts.keep:
            base = tempfile.mkdtemp(prefix="latency-bench-")
            print(f"keeping {base}", file=sys.stderr)
        else:
            base = stack.enter_context(tempfile.TemporaryDirectory(prefix="latency-bench-"))
        for n in range(runs):
            tmp = Path(base) / f"run-{n}"
            tmp.mkdir()
            load_before = load_average()
            result = await one_run(opts, tmp, seed=n)
            result["load_average_before"] = load_before
            results.append(result)
            print(f"run {n + 1}/{runs}: {line(result)}", file=sys.stderr)
    return {
        "machine": describe(),
        "database": opts.database,
        "mode": "webhook" if opts.webhook else "polling",
        "customers": opts.customers,
        "interval_s": opts.interval,
        "jitter": opts.jitter,
        "seconds": opts.seconds,
        "runs": results,
        "median_of_runs": medians(results),
    }


def line(r: dict[str, Any]) -> str:
    lat, emu = r["latency_ms"], r["emulator"]
    return (
        f"{lat['count']} actions, p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms, "
        f"max {lat['max']} ms, over {TAIL_MS:g} ms: {r['over_target']}; "
        f"429s {emu['answered_429']}, late actions {r['late_actions']}, stalls {r['stalls']}, "
        f"validation errors {emu['validation_errors']} (load before: {r['load_average_before']})"
    )


def text_report(result: dict[str, Any]) -> str:
    lines = [
        f"machine: {result['machine']}",
        f"{result['database']}, {result['mode']}: {result['customers']} customers acting every "
        f"{result['interval_s']} s (±{result['jitter']:.0%}), {result['seconds']} s measured, "
        "Telegram's limits kept (emulator enforcing them)",
    ]
    for n, r in enumerate(result["runs"], start=1):
        lines.append(f"run {n}: {line(r)}")
        for name, q in r["stages_ms"].items():
            lines.append(f"  {name:<15} p50 {q['p50']:>8} ms  p95 {q['p95']:>8} ms")
        if probe := r.get("probe"):
            lines.append(
                f"  probe: {probe['matched']} actions matched, {probe['slow_count']} "
                f"over {TAIL_MS:g} ms; their mean split (ms): {probe['slow_mean_ms']}"
            )
            for name, q in probe["all"].items():
                lines.append(
                    f"  {name:<10} p50 {q['p50']:>8} ms  p99 {q['p99']:>8} ms  max {q['max']:>8} ms"
                )
            lines.append(f"  pauses (lag > 20 ms, gc and COMMIT > 5 ms): {probe['pauses']}")
            for note in probe["slowest"]:
                lines.append(f"  slow: {note}")
        for example in r["validation_error_examples"]:
            lines.append(f"  VALIDATION ERROR {example}")
        for note in r["stall_examples"]:
            lines.append(f"  stall: {note}")
    m = result["median_of_runs"]
    lines.append(
        f"median of {len(result['runs'])} runs: p50 {m['p50']} ms, p90 {m['p90']} ms, "
        f"p99 {m['p99']} ms, max {m['max']} ms ({m['count']:g} actions a run)"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=30)
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between actions")
    parser.add_argument("--jitter", type=float, default=0.25, help="± fraction of the interval")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long the load runs")
    parser.add_argument(
        "--warmup",
        type=float,
        default=20.0,
        help="first seconds not counted: every step once (first-time costs: caches, templates)",
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url", help="required for postgresql (it is recreated)")
    parser.add_argument("--webhook", action="store_true", help="run the bot behind a webhook")
    parser.add_argument(
        "--probe",
        action="store_true",
        help="timestamps inside the bot (bench/latency_probe.py): where slow actions' time went",
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat, report the medians")
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.add_argument("--keep", action="store_true", help="keep logs and databases")
    args = parser.parse_args()
    if args.database == "postgresql" and not args.database_url:
        parser.error("--database postgresql needs --database-url postgresql+asyncpg://...")
    if args.database == "sqlite" and args.database_url:
        parser.error("--database-url is for --database postgresql (SQLite uses a fresh file)")
    if args.database_url and (name := args.database_url.rsplit("/", 1)[-1]).startswith("test"):
        parser.error(f"refusing to recreate database {name!r}: the tests use it")
    cores = sorted(os.sched_getaffinity(0))
    opts = Options(
        customers=args.customers,
        interval=args.interval,
        jitter=args.jitter,
        seconds=args.seconds,
        warmup=args.warmup,
        database=args.database,
        database_url=args.database_url,
        webhook=args.webhook,
        probe=args.probe,
        emu_core=cores[0],
        bot_core=cores[1] if len(cores) > 1 else cores[0],
        keep=args.keep,
    )
    result = asyncio.run(run(opts, max(1, args.runs)))
    if args.json:
        print(json.dumps(no_nan(result), ensure_ascii=False, indent=2, allow_nan=False))
    else:
        print(text_report(result))


if __name__ == "__main__":
    main()
