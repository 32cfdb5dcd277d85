"""Conversations: one open per chat, read as records and saved for the version they were read
at, several in one statement; a concurrent writer makes the save fail (StaleDataError)
instead of being overwritten."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm.exc import StaleDataError

from storage.models import Conversation
from storage.repos.base import Repo
from storage.views import ConversationRecord


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


_table = Conversation.__table__
_FIELDS = ConversationRecord.__slots__
_OPEN = select(*(_table.c[name] for name in _FIELDS)).where(
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


async def open_conversation(conn: AsyncConnection, chat_id: int) -> ConversationRecord | None:
    row = (await conn.execute(_OPEN, {"chats": [chat_id]})).first()
    return ConversationRecord(**row._mapping) if row is not None else None


class ConversationRepo(Repo):
    async def open_for_chats(self, chat_ids: Sequence[int]) -> dict[int, ConversationRecord]:
        """The open conversations of several chats in one query, by chat id."""
        rows = await self.session.execute(_OPEN, {"chats": list(chat_ids)})
        return {row.chat_id: ConversationRecord(**row._mapping) for row in rows}

    async def open_for_chat(self, chat_id: int) -> ConversationRecord | None:
        return (await self.open_for_chats([chat_id])).get(chat_id)

    async def create(
        self,
        chat_id: int,
        user_id: int,
        locale: str,
        state: str,
        context: dict[str, Any] | None = None,
        *,
        customer_id: int | None = None,
        now: datetime,
    ) -> ConversationRecord:
        values = {"chat_id": chat_id, "user_id": user_id, "customer_id": customer_id,
                  "locale": locale, "state": state, "context": dict(context or {}),
                  "mode": "bot", "is_open": True, "version": 1, "created_at": now,
                  "updated_at": now}  # fmt: skip
        result = await self.session.execute(insert(_table).values(**values).returning(_table.c.id))
        fields = {k: values[k] for k in _FIELDS if k != "id"}
        return ConversationRecord(id=int(result.scalar_one()), **fields)

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
