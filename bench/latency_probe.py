"""`aftersales run` with timestamps of the reply path, for `bench.latency_bench --probe`.

    LATENCY_PROBE=FILE [BENCH_STATEMENTS=FILE] python -m bench.latency_probe run [--webhook ...]

The production runner (`bot.cli`), its code unchanged; a few methods are wrapped to write one
JSON line per event to FILE (wall-clock `time.time()`, comparable with the emulator's):

* `unit`: a unit of work (`Work.run_many`, `Work.run`) ended, committed: its lanes (chats);
* `wake`: the outbox was told that rows were committed (`OutboxWorker.wake`);
* `tick`: the outbox looked for due chats (`_tick`): start, end, the chats it started;
* `send`: a claimed row's delivery (`_send`): chat, row id, start, end;
* `acquire`: the flood limiter's wait before a message (`RateLimiter.acquire`, or
  `SharedRateLimiter.acquire` where lanes are claimed): chat, start, end;
* `commit`: a COMMIT that took over 5 ms (SQLite: where a WAL checkpoint runs; PostgreSQL:
  the wait for the server's flush of its log): start, end;
* `gc`: a garbage collection that took over 5 ms: its generation, start, end;
* `lag`: the event loop came back over 20 ms late to a 5 ms sleep (the process stalled);
* `stack`: what the loop's thread was running while it had not come back for 40 ms (a
  watchdog thread samples it once per stall).

`bench.latency_bench --probe` reads them back and splits each slow action's time into the
processor, the unit of work, the outbox's pick-up, the limiter and the call.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import gc
import json
import os
import sys
import threading
import time
import traceback
from collections.abc import Awaitable, Callable
from typing import IO, Any

from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_connection

import bot.outbox
import bot.ratelimit
import bot.shared_limits
import dialogs.work
import storage.sqlite_driver
from bench.telegram_unpaced import count_statements
from bot.cli import main

_out: IO[str] | None = None
_lock = threading.Lock()
_beat = [0.0, 0]  # the loop's last heartbeat (time.time()), its thread id


def emit(kind: str, **fields: Any) -> None:
    if _out is not None:
        with _lock:
            _out.write(json.dumps({"kind": kind, **fields}) + "\n")


def _wrap_async(owner: type, name: str, describe: Callable[..., dict[str, Any]]) -> None:
    original: Callable[..., Awaitable[Any]] = getattr(owner, name)

    @functools.wraps(original)
    async def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.time()
        result = await original(*args, **kwargs)
        emit(name.strip("_"), start=start, end=time.time(), **describe(*args, result=result))
        return result

    setattr(owner, name, timed)


def install(path: str) -> None:
    global _out
    _out = open(path, "w", encoding="utf-8", buffering=1 << 16)  # noqa: SIM115 - closed atexit
    atexit.register(_out.flush)
    worker = bot.outbox.OutboxWorker
    wake = worker.wake

    def woken(self: bot.outbox.OutboxWorker) -> None:
        emit("wake", at=time.time())
        wake(self)

    worker.wake = woken  # type: ignore[method-assign]
    work = dialogs.work.Work
    _wrap_async(work, "run_many", lambda self, jobs, result: {"lanes": [j.lane for j in jobs]})
    _wrap_async(work, "run", lambda self, job, result: {"lanes": [job.lane]})
    _wrap_async(worker, "_tick", lambda self, result: {"started": result,
                                                        "busy": sorted(self._busy)})  # fmt: skip
    _wrap_async(worker, "_send", lambda self, row, result: {"chat": row.chat_id, "row": row.id})
    for limiter in (bot.ratelimit.RateLimiter, bot.shared_limits.SharedRateLimiter):
        _wrap_async(limiter, "acquire", lambda self, chat_id, result: {"chat": chat_id})
    # SQLite's commit (a WAL checkpoint), PostgreSQL's (the server's flush of its log).
    for connection in (storage.sqlite_driver.OneTripConnection, AsyncAdapt_asyncpg_connection):
        _time_commits(connection)
    collecting: dict[str, float] = {}

    def collected(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collecting["start"] = time.time()
        elif (end := time.time()) - collecting.get("start", end) > SLOW:
            # What it walked: the objects left in the oldest generation, the frozen ones not.
            emit("gc", gen=info["generation"], start=collecting["start"], end=end,
                 old=len(gc.get_objects(2)), frozen=gc.get_freeze_count())  # fmt: skip

    gc.callbacks.append(collected)

    bot.outbox.OutboxWorker.run = _with_lag_monitor(bot.outbox.OutboxWorker.run)  # type: ignore[method-assign]


SLOW = 0.005
LAG_STEP = 0.005
LAG_REPORT = 0.02


def _with_lag_monitor(
    run: Callable[[bot.outbox.OutboxWorker], Awaitable[None]],
) -> Callable[[bot.outbox.OutboxWorker], Awaitable[None]]:
    """The outbox's loop with a watcher beside it on the same event loop."""

    @functools.wraps(run)
    async def watched(self: bot.outbox.OutboxWorker) -> None:
        watcher = asyncio.create_task(_watch())
        try:
            await run(self)
        finally:
            watcher.cancel()

    return watched


async def _watch() -> None:
    _beat[1] = threading.get_ident()
    threading.Thread(target=_watchdog, daemon=True, name="probe-watchdog").start()
    while True:
        start = _beat[0] = time.time()
        await asyncio.sleep(LAG_STEP)
        if (end := time.time()) - start - LAG_STEP > LAG_REPORT:
            emit("lag", start=start, end=end)


def _time_commits(connection: type) -> None:
    commit = connection.commit

    def timed_commit(self: Any) -> None:
        start = time.time()
        commit(self)
        if (end := time.time()) - start > SLOW:
            emit("commit", start=start, end=end)

    connection.commit = timed_commit  # type: ignore[attr-defined]


def _watchdog() -> None:
    """Samples the loop's thread when its heartbeat is 40 ms old, once per stall."""
    seen = 0.0
    while True:
        time.sleep(0.01)
        beat = _beat[0]
        if beat and beat != seen and time.time() - beat > 0.04:
            seen = beat
            frame = sys._current_frames().get(_beat[1])
            if frame is not None:
                stack = traceback.extract_stack(frame)[-14:]
                lines = [f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in stack]
                emit("stack", at=time.time(), beat=beat, stack=lines)


if __name__ == "__main__":
    if target := os.environ.get("LATENCY_PROBE"):
        install(target)
    if target := os.environ.get("BENCH_STATEMENTS"):
        count_statements(target)
    sys.exit(main(sys.argv[1:]))
