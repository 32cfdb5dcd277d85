"""The bot's update queue: getUpdates semantics (offset confirms, limit, long polling).

Waiters are plain futures created on the caller's running loop, so one queue works whatever
loop the tests run on.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import Any

# Telegram's default when allowed_updates was never given.
DEFAULT_ALLOWED = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "guest_message",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
        "managed_bot",
    }
)


def update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _ascending(updates: list[dict[str, Any]]) -> bool:
    ids = [u["update_id"] for u in updates]
    return all(a < b for a, b in itertools.pairwise(ids))


class UpdateQueue:
    def __init__(self) -> None:
        self.pending: deque[dict[str, Any]] = deque()
        self.allowed: frozenset[str] = DEFAULT_ALLOWED
        self._redeliver: list[dict[str, Any]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._poll_generation = 0
        # pending may not be sorted by id (after reset_update_ids or a requeue)
        self._unsorted = False
        self.dropped_not_allowed = 0

    def put(self, update: dict[str, Any]) -> None:
        if self.pending and update["update_id"] <= self.pending[-1]["update_id"]:
            self._unsorted = True
        self.pending.append(update)
        self._wake()

    def redeliver(self, update: dict[str, Any]) -> None:
        """Hand an already delivered update out once more, whatever the confirmed offset."""
        self._redeliver.append(update)
        self._wake()

    def requeue(self, updates: list[dict[str, Any]]) -> None:
        """Put undelivered updates back at the front, in order."""
        if not _ascending([*updates, *itertools.islice(self.pending, 1)]):
            self._unsorted = True
        self.pending.extendleft(reversed(updates))
        if updates:
            self._wake()

    def clear(self) -> None:
        self.pending.clear()
        self._redeliver.clear()

    def set_allowed(self, allowed: list[str] | None) -> None:
        # An empty list means "all except the opt-in ones", like Telegram.
        if allowed:
            self.allowed = frozenset(allowed)
        elif allowed is not None:
            self.allowed = DEFAULT_ALLOWED

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_new(self, seconds: float | None) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, seconds)
        except TimeoutError:
            pass
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def confirm(self, offset: int) -> None:
        if offset < 0:
            # A negative offset keeps only the last -offset updates.
            while len(self.pending) > -offset:
                self.pending.popleft()
            return
        while self.pending and self.pending[0]["update_id"] < offset:
            self.pending.popleft()
        if self._unsorted:
            # Telegram confirms by id, not by position: a stale offset drops newer low ids.
            self.pending = deque(u for u in self.pending if u["update_id"] >= offset)
        if not self.pending:
            self._unsorted = False

    def collect(self, limit: int) -> list[dict[str, Any]]:
        batch = self._redeliver[:limit]
        del self._redeliver[: len(batch)]
        kept: deque[dict[str, Any]] = deque()
        for update in self.pending:
            if update_type(update) in self.allowed:
                kept.append(update)
            else:
                self.dropped_not_allowed += 1
        self.pending = kept
        for update in self.pending:
            if len(batch) >= limit:
                break
            batch.append(update)
        return batch

    def start_poll(self) -> int:
        """Begin a getUpdates call; a newer call makes older waiting ones fail with 409."""
        self._poll_generation += 1
        self._wake()
        return self._poll_generation

    def is_current_poll(self, generation: int) -> bool:
        return generation == self._poll_generation

    def pop(self) -> dict[str, Any] | None:
        """Take the next deliverable update (webhook mode)."""
        if self._redeliver:
            return self._redeliver.pop(0)
        while self.pending:
            update = self.pending.popleft()
            if update_type(update) in self.allowed:
                return update
            self.dropped_not_allowed += 1
        return None

    def __len__(self) -> int:
        return len(self.pending) + len(self._redeliver)
