"""Outgoing messages, written in the same transaction as the state change that caused them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, or_, select, update

from storage.models import BlockedChat, Outbox
from storage.repos.base import Repo, dialect_insert
from storage.types import utcnow

_ADD = insert(Outbox.__table__).values(status="pending", attempts=0)


class OutboxRepo(Repo):
    async def add(self, chat_id: int, payload: dict[str, Any], at: datetime) -> Outbox:
        row = Outbox(chat_id=chat_id, payload=payload, status="pending", attempts=0, created_at=at)
        self.session.add(row)
        await self.session.flush()
        return row

    async def add_many(self, messages: Sequence[tuple[int, dict[str, Any]]], at: datetime) -> None:
        """Several messages in one statement (a turn often says two or three things)."""
        if messages:
            rows = [{"chat_id": c, "payload": p, "created_at": at} for c, p in messages]
            await self.session.execute(_ADD, rows)  # Core executemany: no ORM bookkeeping

    async def get(self, outbox_id: int) -> Outbox | None:
        return await self.session.get(Outbox, outbox_id)

    async def due(self, now: datetime, limit: int = 50) -> Sequence[Outbox]:
        rows = await self.session.scalars(
            select(Outbox)
            .where(
                Outbox.status == "pending",
                or_(Outbox.next_attempt_at.is_(None), Outbox.next_attempt_at <= now),
            )
            .order_by(Outbox.id)
            .limit(limit)
        )
        return rows.all()

    async def mark_sent(
        self, outbox_id: int, at: datetime, telegram_message_id: int | None
    ) -> None:
        await self._set(
            outbox_id,
            status="sent",
            sent_at=at,
            telegram_message_id=telegram_message_id,
            attempts=Outbox.attempts + 1,
            error=None,
        )

    async def reschedule(self, outbox_id: int, at: datetime, error: str) -> None:
        """Try again at `at` (429 retry_after, 5xx, network)."""
        await self._set(outbox_id, next_attempt_at=at, error=error, attempts=Outbox.attempts + 1)

    async def mark_failed(self, outbox_id: int, error: str) -> None:
        await self._set(outbox_id, status="failed", error=error, attempts=Outbox.attempts + 1)

    async def mark_blocked(self, chat_id: int, at: datetime | None = None) -> None:
        """The user blocked the bot: drop what is queued for them and remember it."""
        await self.session.execute(
            update(Outbox)
            .where(Outbox.chat_id == chat_id, Outbox.status == "pending")
            .values(status="blocked")
            .execution_options(synchronize_session="fetch")
        )
        await self.session.execute(
            dialect_insert(self.session, BlockedChat.__table__)
            .values(chat_id=chat_id, blocked_at=at or utcnow())
            .on_conflict_do_nothing(index_elements=["chat_id"])
        )

    async def unblock(self, chat_id: int) -> None:
        blocked = await self.session.get(BlockedChat, chat_id)
        if blocked is not None:
            await self.session.delete(blocked)
            await self.session.flush()

    async def is_blocked(self, chat_id: int) -> bool:
        return await self.session.get(BlockedChat, chat_id) is not None

    async def _set(self, outbox_id: int, **values: Any) -> None:
        await self.session.execute(
            update(Outbox)
            .where(Outbox.id == outbox_id)
            .values(**values)
            .execution_options(synchronize_session="fetch")
        )
