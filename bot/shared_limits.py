"""Telegram's flood limits held for the bot as a whole when several workers send.

Each worker's own `RateLimiter` would let N workers send N times too much. Here the buckets
live in the database (`rate_slots`): booking a slot is one atomic upsert on the bucket's row
that moves its theoretical arrival time (the same GCRA as `bot.ratelimit`) and returns it,
on the database server's clock, so workers on different machines agree on "now". A worker
then sleeps until its slot, as the in-process limiter does. Key 0 is the overall bucket;
private chats have positive ids, groups negative ones.

A booking is on the path of every message, so it costs one round trip: the upsert alone, in
autocommit, on an unlogged table (migration 0012) whose commit waits for no disk flush. The
usual message (its chat has a free slot) books its chat's bucket and the overall one in that
one statement; only a chat that must wait books the overall slot once its wait is over. A
database crash empties the buckets; the price is one burst of up to a bucket's tolerance.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from sqlalchemy import Row, TextClause, text

from bot.ratelimit import Limits, Rate, Sleep
from storage.db import Database, is_outage

log = logging.getLogger(__name__)
OVERALL = 0
OUTAGE_WAIT = 30.0  # seconds a booking waits for the database before pacing alone

_CLOCK = "WITH clock AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)"


def _booking(key: str, interval: str, tolerance: str, when: str = "") -> str:
    """The upsert that books a bucket's slot: the bucket's arrival time less its burst
    tolerance, never before now; the bucket moves on by one interval from its arrival time
    (or from now, after a quiet spell). Returns the seconds to wait as `wait`."""
    return f"""
        INSERT INTO rate_slots AS r (key, tat)
        SELECT {key}, clock.now + {interval} FROM clock {when}
        ON CONFLICT (key) DO UPDATE
            SET tat = greatest(r.tat, (SELECT now FROM clock)) + {interval}
        RETURNING tat - {interval} - {tolerance} - (SELECT now FROM clock) AS wait"""


_BOOK = text(f"{_CLOCK} {_booking(':key', ':interval', ':tolerance')}")
# The chat's slot and, only if the chat may send now, the overall one: the common case in one
# round trip. Both rows move in one statement on one clock reading (a CTE read twice is
# evaluated once). Chat ids are never 0, the overall bucket's key.
_BOOK_BOTH = text(
    f"""{_CLOCK},
    chat AS ({_booking(":key", ":interval", ":tolerance")}),
    overall AS ({_booking("0", ":overall_interval", ":overall_tolerance",
                          "WHERE (SELECT wait FROM chat) <= 0")})
    SELECT (SELECT wait FROM chat) AS chat, (SELECT wait FROM overall) AS overall"""
)  # fmt: skip
_QUIET = text(
    """
    INSERT INTO rate_slots AS r (key, tat)
    VALUES (:key, extract(epoch FROM clock_timestamp())::float8 + :until)
    ON CONFLICT (key) DO UPDATE SET tat = greatest(r.tat, excluded.tat)
    """
)


class SharedRateLimiter:
    """`await limiter.acquire(chat_id)` before each message, as with `RateLimiter`."""

    def __init__(self, db: Database, limits: Limits | None = None, *,
                 sleep: Sleep = asyncio.sleep) -> None:  # fmt: skip
        self.db = db
        self.limits = limits or Limits()
        self._sleep = sleep
        self._alone = False  # the last booking failed (said once in the log, not per message)
        self._writing: set[asyncio.Task[None]] = set()

    async def acquire(self, chat_id: int) -> None:
        # The chat's slot first, the overall one only once the chat may send (as in
        # `RateLimiter.acquire`: booking the overall bucket seconds ahead holds up every chat);
        # a chat that may send now books both in one statement.
        rate, overall = self.limits.for_chat(chat_id), self.limits.overall
        params = {
            "key": chat_id, "interval": rate.interval, "tolerance": rate.tolerance,
            "overall_interval": overall.interval, "overall_tolerance": overall.tolerance,
        }  # fmt: skip
        row = await self._book(_BOOK_BOTH, params)
        # No booking: this worker paces itself alone for now, as if the chat had to wait.
        chat_wait, overall_wait = (rate.interval, None) if row is None else row
        if chat_wait > 0:  # the overall slot was not booked: booked once the chat may send
            await self._sleep(chat_wait)
            await self._wait(OVERALL, overall)
        elif overall_wait is not None and overall_wait > 0:
            await self._sleep(overall_wait)

    def penalize(self, chat_id: int | None, seconds: float) -> None:
        """Telegram said "retry after `seconds`": every worker keeps this chat (None: every
        chat) quiet that long. Written in the background: the caller waits out the pause
        itself, the others see it on their next booking."""
        key, rate = (OVERALL, self.limits.overall) if chat_id is None else (
            chat_id, self.limits.for_chat(chat_id))  # fmt: skip
        task = asyncio.create_task(self._quiet(key, seconds + rate.tolerance))
        self._writing.add(task)
        task.add_done_callback(self._writing.discard)

    async def _quiet(self, key: int, seconds: float) -> None:
        try:
            async with self.db.engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(_QUIET, {"key": key, "until": seconds})
        except Exception:  # a lost pause costs at most one more 429
            log.warning("could not share a Telegram pause of %.1f s", seconds, exc_info=True)

    async def _wait(self, key: int, rate: Rate) -> None:
        row = await self._book(_BOOK, {"key": key, "interval": rate.interval,
                                       "tolerance": rate.tolerance})  # fmt: skip
        wait = rate.interval if row is None else row[0]
        if wait is not None and wait > 0:
            await self._sleep(wait)

    async def _book(self, statement: TextClause, params: dict[str, float]) -> Row[Any] | None:
        """The booking's row; None when the buckets cannot be used (said once in the log)."""
        give_up = time.monotonic() + OUTAGE_WAIT
        while True:
            try:
                async with self.db.engine.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    row = (await conn.execute(statement, params)).one()  # its own unit
                self._alone = False
                return row
            except Exception as exc:
                # A message is never failed for its booking: past a restart's wait, or on an
                # error that waiting will not cure, this worker paces itself alone for now.
                if not is_outage(exc) or time.monotonic() >= give_up:
                    if not self._alone:
                        log.warning("rate buckets unusable; pacing this worker alone",
                                    exc_info=not is_outage(exc))  # fmt: skip
                    self._alone = True
                    return None
                await self._sleep(0.5)  # the database restarting: book again
