"""Conversations: one open per chat. Save by mutating and flushing, or several at once with
`save_many`; either way the version column makes a concurrent writer fail with StaleDataError
instead of overwriting."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.exc import StaleDataError

from storage.models import Conversation
from storage.repos.base import Repo
from storage.types import utcnow


@dataclass(frozen=True, slots=True)
class ConversationSave:
    """A conversation's new state, for the version it was read at."""

    id: int
    version: int
    state: str
    context: dict[str, Any]
    locale: str
    customer_id: int | None
    mode: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OpenConversation:
    """An open conversation as read for a turn whose result is saved with `save_many`."""

    id: int
    chat_id: int
    state: str
    context: dict[str, Any]
    locale: str
    customer_id: int | None
    version: int


_table = Conversation.__table__
_OPEN = select(*(_table.c[name] for name in OpenConversation.__slots__)).where(
    _table.c.chat_id.in_(bindparam("chats", expanding=True)), _table.c.is_open
)
_SAVE = (
    update(_table)
    .where(_table.c.id == bindparam("b_id"), _table.c.version == bindparam("b_version"))
    .values(
        state=bindparam("b_state"),
        context=bindparam("b_context", type_=_table.c.context.type),
        locale=bindparam("b_locale"),
        customer_id=bindparam("b_customer_id"),
        mode=bindparam("b_mode"),
        updated_at=bindparam("b_updated_at", type_=_table.c.updated_at.type),
        version=_table.c.version + 1,
    )
)


class ConversationRepo(Repo):
    async def open_for_chat(self, chat_id: int) -> Conversation | None:
        return await self.session.scalar(
            select(Conversation).where(Conversation.chat_id == chat_id, Conversation.is_open)
        )

    async def open_for_chats(self, chat_ids: Sequence[int]) -> dict[int, OpenConversation]:
        """The open conversations of several chats in one query, by chat id, as plain values
        (no ORM objects to track): they are saved with `save_many`."""
        rows = await self.session.execute(_OPEN, {"chats": list(chat_ids)})
        return {row.chat_id: OpenConversation(*row) for row in rows}

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

    async def save_many(self, saves: Sequence[ConversationSave]) -> None:
        """Several conversations in one statement where the driver reports how many rows an
        executemany changed (SQLite), else one statement each; StaleDataError if any of them
        was changed since it was read."""
        params = [
            {f"b_{k}": getattr(save, k) for k in ConversationSave.__slots__} for save in saves
        ]
        if not params:
            return
        connection = await self.session.connection()
        if connection.dialect.supports_sane_multi_rowcount:
            changed = (await connection.execute(_SAVE, params)).rowcount
        else:
            changed = 0
            for one in params:
                changed += (await connection.execute(_SAVE, one)).rowcount
        if changed != len(params):
            raise StaleDataError(f"{len(params) - changed} conversation(s) changed meanwhile")
