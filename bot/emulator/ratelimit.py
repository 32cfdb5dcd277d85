"""Telegram's flood limits, measured always and enforced only when asked.

Telegram documents about 1 message per second per private chat (short bursts tolerated),
20 messages per minute per group and about 30 messages per second overall. Each limit is a
token bucket: capacity is the tolerated burst, the refill rate the sustained limit.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Bucket:
    capacity: float
    rate: float  # tokens per second
    tokens: float
    updated: float

    def take(self, now: float) -> float:
        """Consume one token; return 0 if allowed, else seconds until one is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass(slots=True)
class RateStats:
    sent: int = 0
    exceeded: int = 0
    exceeded_by_chat: dict[int, int] = field(default_factory=dict)
    exceeded_global: int = 0


@dataclass(slots=True)
class RateLimiter:
    enforce: bool = False
    # Real elapsed time, not the emulator's message-date clock: tests often freeze that one.
    clock: Callable[[], float] = time.monotonic
    private_per_second: float = 1.0
    private_burst: float = 5.0
    group_per_minute: float = 20.0
    group_burst: float = 20.0
    global_per_second: float = 30.0
    global_burst: float = 30.0
    stats: RateStats = field(default_factory=RateStats)
    _chats: dict[int, _Bucket] = field(default_factory=dict)
    _global: _Bucket | None = None

    def check(self, chat_id: int, is_private: bool) -> int | None:
        """Count one outgoing message; return retry_after seconds when a limit is exceeded."""
        now = self.clock()
        self.stats.sent += 1
        if self._global is None:
            self._global = _Bucket(
                self.global_burst, self.global_per_second, self.global_burst, now
            )
        bucket = self._chats.get(chat_id)
        if bucket is None:
            if is_private:
                bucket = _Bucket(
                    self.private_burst, self.private_per_second, self.private_burst, now
                )
            else:
                rate = self.group_per_minute / 60
                bucket = _Bucket(self.group_burst, rate, self.group_burst, now)
            self._chats[chat_id] = bucket
        wait_chat = bucket.take(now)
        wait_global = self._global.take(now)
        if not wait_chat and not wait_global:
            return None
        self.stats.exceeded += 1
        if wait_chat:
            self.stats.exceeded_by_chat[chat_id] = self.stats.exceeded_by_chat.get(chat_id, 0) + 1
        if wait_global:
            self.stats.exceeded_global += 1
        return max(1, math.ceil(max(wait_chat, wait_global)))
