"""Conversations: one open per chat, read as records and saved for the version they were read
at, several in one statement; a concurrent writer makes the save fail (StaleDataError)
instead of being overwritten."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm.exc import StaleDataError

from storage.models import Conversation
from storage.repos.base import Repo, on_postgresql, one_of
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
_OPEN = {
    array: select(*(_table.c[name] for name in _FIELDS)).where(
        one_of(_table.c.chat_id, "chats", array=array), _table.c.is_open
    )
    for array in (False, True)
}
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


# PostgreSQL: a batch's saves in one statement, the rows as arrays unnested into a table
# (asyncpg reports no rowcount for an executemany, so `_SAVE` would be one round trip each);
# RETURNING names the rows that were still at the version they were read at.
_ROWS = (
    func.unnest(
        bindparam("ids", type_=ARRAY(Integer)),
        bindparam("versions", type_=ARRAY(Integer)),
        bindparam("states", type_=ARRAY(String)),
        bindparam("contexts", type_=ARRAY(_table.c.context.type)),
        bindparam("locales", type_=ARRAY(String)),
        bindparam("customers", type_=ARRAY(Integer)),
        bindparam("modes", type_=ARRAY(String)),
        bindparam("updated", type_=ARRAY(_table.c.updated_at.type)),
    )
    .table_valued(*ConversationSave.__slots__)
    .render_derived(name="saves")
)
_SAVE_ARRAYS = (
    update(_table)
    .where(_table.c.id == _ROWS.c.id, _table.c.version == _ROWS.c.version)
    .values(
        state=_ROWS.c.state,
        context=_ROWS.c.context,
        locale=_ROWS.c.locale,
        customer_id=_ROWS.c.customer_id,
        mode=_ROWS.c.mode,
        updated_at=_ROWS.c.updated_at,
        version=_table.c.version + 1,
    )
    .returning(_table.c.id)
)


async def open_conversations(
    conn: AsyncConnection, chat_ids: Sequence[int]
) -> dict[int, ConversationRecord]:
    """The open conversations of these chats, by chat id, on a plain connection."""
    rows = await conn.execute(_OPEN[conn.dialect.name == "postgresql"], {"chats": list(chat_ids)})
    return {row.chat_id: ConversationRecord(**row._mapping) for row in rows}


class ConversationRepo(Repo):
    async def open_for_chats(self, chat_ids: Sequence[int]) -> dict[int, ConversationRecord]:
        """The open conversations of several chats in one query, by chat id."""
        rows = await self.session.execute(
            _OPEN[on_postgresql(self.session)], {"chats": list(chat_ids)}
        )
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
        """Several conversations in one statement (SQLite: an executemany, whose rowcount it
        reports; PostgreSQL: arrays unnested); StaleDataError if any of them was changed since
        it was read."""
        if not saves:
            return
        connection = await self.session.connection()
        if connection.dialect.name == "postgresql":
            changed = len((await connection.execute(_SAVE_ARRAYS, _arrays(saves))).all())
        elif connection.dialect.supports_sane_multi_rowcount:
            params = [{f"b_{k}": getattr(one, k) for k in ConversationSave.__slots__}
                      for one in saves]  # fmt: skip
            changed = (await connection.execute(_SAVE, params)).rowcount
        else:
            changed = 0
            for one in saves:
                params = {f"b_{k}": getattr(one, k) for k in ConversationSave.__slots__}
                changed += (await connection.execute(_SAVE, params)).rowcount
        if changed != len(saves):
            raise StaleDataError(f"{len(saves) - changed} conversation(s) changed meanwhile")


def _arrays(saves: Sequence[ConversationSave]) -> dict[str, list[Any]]:
    return {
        "ids": [s.id for s in saves],
        "versions": [s.version for s in saves],
        "states": [s.state for s in saves],
        "contexts": [s.context for s in saves],
        "locales": [s.locale for s in saves],
        "customers": [s.customer_id for s in saves],
        "modes": [s.mode for s in saves],
        "updated": [s.updated_at for s in saves],
    }
