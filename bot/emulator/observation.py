"""What tests look at: the bot's messages, callback answers, calls, errors; waiting helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bot.emulator.core import EmulatorCore
from bot.emulator.state import CallbackRecord, CallRecord, SentMessage, SimChat, SimUser

ChatRef = int | SimUser | SimChat


def chat_id_of(chat: ChatRef) -> int:
    return chat if isinstance(chat, int) else chat.id


def _offset(params: dict[str, Any]) -> int | None:
    value = params.get("offset")
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None  # a malformed offset was refused by validation anyway


class Observation(EmulatorCore):
    def sent_messages(self, chat: ChatRef, *, include_deleted: bool = True) -> list[SentMessage]:
        """The bot's messages in `chat`, oldest first, in their current state."""
        found = self.chats.get(chat_id_of(chat))
        if found is None:
            return []
        messages = list(found.bot_messages.values())
        return messages if include_deleted else [m for m in messages if not m.deleted]

    def message_count(self, chat: ChatRef) -> int:
        """How many messages the bot has sent to `chat` (deleted ones included)."""
        found = self.chats.get(chat_id_of(chat))
        return len(found.bot_messages) if found is not None else 0

    def last_message(self, chat: ChatRef) -> SentMessage | None:
        found = self.chats.get(chat_id_of(chat))
        if found is None or not found.bot_messages:
            return None
        return found.bot_messages[next(reversed(found.bot_messages))]

    def unanswered_callbacks(self) -> list[CallbackRecord]:
        return [c for c in self.callbacks.values() if not c.answered]

    def calls_to(self, method: str) -> list[CallRecord]:
        return list(self.calls_by_method.get(method.lower(), ()))

    def polled_offsets(self) -> list[int | None]:
        """The `offset` each getUpdates call carried (None: none given), oldest first.

        `CallRecord.params` keeps the wire value (a string from form-encoding clients)."""
        return [_offset(call.params) for call in self.calls_to("getUpdates")]

    async def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test API
    ) -> None:
        """Return once `predicate()` holds (re-checked after every call and update)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout} s")
            # bounded wait: a predicate may also depend on things outside the emulator
            await self.wait_change(min(remaining, 0.05))

    async def wait_for_messages(
        self,
        chat: ChatRef,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test API
    ) -> list[SentMessage]:
        """Wait until the bot has sent at least `count` messages to `chat`; return them all."""
        try:
            await self.wait_until(lambda: self.message_count(chat) >= count, timeout)
        except TimeoutError:
            got = [m.text for m in self.sent_messages(chat)]
            raise TimeoutError(
                f"expected {count} bot messages in chat {chat_id_of(chat)} within {timeout} s, "
                f"got {len(got)}: {got!r}"
            ) from None
        return self.sent_messages(chat)

    async def wait_for_callback_answer(
        self,
        update: dict[str, Any],
        timeout: float = 5.0,  # noqa: ASYNC109 - the documented test API
    ) -> CallbackRecord:
        record = self.callbacks[update["callback_query"]["id"]]
        await self.wait_until(lambda: record.answered, timeout)
        return record

    def stats(self) -> dict[str, Any]:
        """Counters for benchmarks: calls, errors and flood-limit measurements."""
        rate = self.rate_limits.stats
        return {
            "calls": len(self.calls),
            "validation_errors": len(self.validation_errors),
            "api_errors": len(self.api_errors),
            "result_errors": len(self.result_errors),
            "updates_pending": len(self.updates),
            "messages_sent": rate.sent,
            "rate_limit_exceeded": rate.exceeded,
            "rate_limit_exceeded_global": rate.exceeded_global,
            "rate_limit_exceeded_by_chat": dict(rate.exceeded_by_chat),
            "webhook_attempts": len(self.webhook.stats.attempts),
            "unanswered_callbacks": len(self.unanswered_callbacks()),
        }
