"""Conversations: one open per chat. Save by mutating and flushing; the version column makes a
concurrent writer fail with StaleDataError instead of overwriting."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from storage.models import Conversation
from storage.repos.base import Repo
from storage.types import utcnow


class ConversationRepo(Repo):
    async def open_for_chat(self, chat_id: int) -> Conversation | None:
        return await self.session.scalar(
            select(Conversation).where(Conversation.chat_id == chat_id, Conversation.is_open)
        )

    async def open_for_chats(self, chat_ids: Sequence[int]) -> dict[int, Conversation]:
        """The open conversations of several chats in one query, by chat id."""
        rows = await self.session.scalars(
            select(Conversation).where(Conversation.chat_id.in_(chat_ids), Conversation.is_open)
        )
        return {row.chat_id: row for row in rows}

    async def get(self, conversation_id: int) -> Conversation | None:
        return await self.session.get(Conversation, conversation_id)

    async def create(
        self,
        chat_id: int,
        user_id: int,
        locale: str,
        state: str,
        context: dict[str, Any] | None = None,
        *,
        customer_id: int | None = None,
        now: datetime | None = None,
    ) -> Conversation:
        at = now or utcnow()
        conversation = Conversation(
            chat_id=chat_id,
            user_id=user_id,
            customer_id=customer_id,
            locale=locale,
            state=state,
            context=dict(context or {}),
            mode="bot",
            is_open=True,
            created_at=at,
            updated_at=at,
        )
        self.session.add(conversation)
        await self.session.flush()
        return conversation

    async def close(self, conversation: Conversation, now: datetime | None = None) -> None:
        conversation.is_open = False
        conversation.updated_at = now or utcnow()
        await self.session.flush()
