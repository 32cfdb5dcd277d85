"""Telegram's flood limits as token buckets, so the outbox rarely meets a 429.

Telegram documents about 1 message per second per private chat (short bursts tolerated), 20
messages per minute per group and about 30 messages per second overall. Each limit is a bucket
in GCRA form (a "theoretical arrival time" per bucket): `acquire` books the chat's next slot,
sleeps until it, then books the global bucket's next slot and sleeps until that. Bookings are
first come, first served and cost O(1); nobody polls.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int  # messages allowed at once after a quiet spell

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.interval


@dataclass(frozen=True, slots=True)
class Limits:
    # Slightly under Telegram's figures: our clock and theirs never agree exactly.
    private: Rate = Rate(per_second=1.0, burst=3)
    group: Rate = Rate(per_second=20 / 60, burst=3)
    overall: Rate = Rate(per_second=25.0, burst=20)

    def for_chat(self, chat_id: int) -> Rate:
        """A chat's own limit: groups (negative ids) have theirs, private chats theirs."""
        return self.group if chat_id < 0 else self.private

    @classmethod
    def per_second(cls, overall: float, per_chat: float, per_group: float) -> Limits:
        """These rates (TELEGRAM_RATE_* settings) with the default bursts."""
        default = cls()
        return cls(
            private=Rate(per_chat, default.private.burst),
            group=Rate(per_group, default.group.burst),
            overall=Rate(overall, default.overall.burst),
        )


class RateLimiter:
    """`await limiter.acquire(chat_id)` before each message; group chats have ids < 0."""

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        clock: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.limits = limits or Limits()
        self._clock = clock
        self._sleep = sleep
        self._overall = 0.0  # theoretical arrival time of the next message, any chat
        self._chats: dict[int, float] = {}
        self._next_prune = 0.0

    def reserve_chat(self, chat_id: int) -> float:
        """Book the chat's next slot; seconds until it (0: now)."""
        now = self._clock()
        rate = self.limits.for_chat(chat_id)
        tat = max(self._chats.get(chat_id, now), now)
        at = max(now, tat - rate.tolerance)
        self._chats[chat_id] = tat + rate.interval
        self._prune(now)
        return at - now

    def reserve_overall(self) -> float:
        """Book the next slot of the global bucket; seconds until it (0: now)."""
        now = self._clock()
        rate = self.limits.overall
        tat = max(self._overall, now)
        self._overall = tat + rate.interval
        return max(0.0, tat - rate.tolerance - now)

    async def acquire(self, chat_id: int) -> None:
        # The chat's slot first, the global one only when the chat may send: booking the global
        # bucket for a slot seconds ahead (a group's 3 s spacing, a 429 pause) would hold up
        # every other chat until then.
        wait = self.reserve_chat(chat_id)
        if wait > 0:
            await self._sleep(wait)
        wait = self.reserve_overall()
        if wait > 0:
            await self._sleep(wait)

    def penalize(self, chat_id: int | None, seconds: float) -> None:
        """Telegram said "retry after `seconds`": keep this chat (None: every chat) quiet."""
        until = self._clock() + seconds
        if chat_id is None:
            self._overall = max(self._overall, until + self.limits.overall.tolerance)
            return
        rate = self.limits.for_chat(chat_id)
        self._chats[chat_id] = max(self._chats.get(chat_id, 0.0), until + rate.tolerance)

    def _prune(self, now: float) -> None:
        # A bucket whose arrival time has passed is as good as new: forget it, so that a bot
        # with many customers keeps a small dict.
        if now < self._next_prune:
            return
        self._next_prune = now + 60
        self._chats = {chat: tat for chat, tat in self._chats.items() if tat > now}
