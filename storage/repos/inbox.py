"""Raw Telegram updates, stored before they are confirmed so none is lost or done twice.

A row is found by its own `id` (the order of arrival). An update is a duplicate only when
both its `update_id` and its `identity` were stored before: Telegram reuses update ids after a
week of silence, so an id alone says nothing (see `storage.models.Inbox`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, String, bindparam, func, literal, select, update
from sqlalchemy.dialects import postgresql

from storage.models import Inbox
from storage.repos.base import Repo, dialect_insert, on_postgresql, one_of

# (update_id, identity, chat_id, payload)
NewUpdate = tuple[int, str, int | None, dict[str, Any]]
_t = Inbox.__table__
_RETURNED = (_t.c.id, _t.c.update_id, _t.c.identity)
# PostgreSQL: a batch's rows as arrays unnested into a table, in the order given, so the
# statement's text is one whatever the batch's size. An executemany is rendered as a
# multi-row INSERT, a new text (a Parse round trip, a place in asyncpg's statement cache)
# for every batch size: those crowded the bot's other statements out of the cache.
_NEW = (
    func.unnest(
        bindparam("update_ids", type_=postgresql.ARRAY(BigInteger)),
        bindparam("identities", type_=postgresql.ARRAY(String)),
        bindparam("chat_ids", type_=postgresql.ARRAY(BigInteger)),
        bindparam("lanes", type_=postgresql.ARRAY(BigInteger)),
        bindparam("payloads", type_=postgresql.ARRAY(_t.c.payload.type)),
    )
    .table_valued("update_id", "identity", "chat_id", "lane", "payload", with_ordinality="n")
    .render_derived(name="new")
)
_RECORD_ARRAYS = (
    postgresql.insert(_t)
    .from_select(
        ["update_id", "identity", "chat_id", "lane", "payload", "status", "received_at"],
        select(*(_NEW.c[name] for name in ("update_id", "identity", "chat_id", "lane", "payload")))
        .add_columns(literal("pending"), bindparam("at", type_=_t.c.received_at.type))
        .order_by(_NEW.c.n),
    )
    .on_conflict_do_nothing(index_elements=["update_id", "identity"])
    .returning(*_RETURNED)
)
_FINISH = {
    array: update(_t)
    .where(one_of(_t.c.id, "ids", array=array), _t.c.status == "pending")
    .values(status="done", processed_at=bindparam("at", type_=_t.c.processed_at.type), error=None)
    .returning(_t.c.id)
    for array in (False, True)
}


class InboxRepo(Repo):
    async def record(
        self, update_id: int, identity: str, chat_id: int | None, payload: dict[str, Any],
        at: datetime,
    ) -> int | None:  # fmt: skip
        """Store an update; its row id, or None when it was stored before (a redelivery)."""
        fresh = await self.record_many([(update_id, identity, chat_id, payload)], at)
        return fresh.get((update_id, identity))

    async def record_many(
        self, updates: Sequence[NewUpdate], at: datetime, lanes: Sequence[int] | None = None
    ) -> dict[tuple[int, str], int]:
        """Store a batch in one statement; the new rows' ids by (update_id, identity).
        Rows are inserted in the order given, so their ids keep that order. `lanes`, one per
        update, says whose work each is (default: its chat's)."""
        if not updates:
            return {}
        lanes = (
            lanes if lanes is not None else [c if c is not None else 0 for _, _, c, _ in updates]
        )
        if on_postgresql(self.session):
            result = await self.session.execute(
                _RECORD_ARRAYS,
                {"update_ids": [u for u, _, _, _ in updates],
                 "identities": [i for _, i, _, _ in updates],
                 "chat_ids": [c for _, _, c, _ in updates],
                 "lanes": list(lanes), "payloads": [p for _, _, _, p in updates], "at": at},
            )  # fmt: skip
            return {(row.update_id, row.identity): row.id for row in result}
        # SQLite: one cached statement run as an executemany (SQLAlchemy batches it into
        # multi-row INSERTs itself): a statement built with the rows inside would be compiled
        # anew for every batch, binding each value on the way.
        stmt = (
            dialect_insert(self.session, _t)
            .values(status="pending")
            .on_conflict_do_nothing(index_elements=["update_id", "identity"])
            .returning(*_RETURNED)
        )
        rows = [
            {"update_id": u, "identity": i, "chat_id": c, "lane": lane, "payload": p,
             "received_at": at}
            for (u, i, c, p), lane in zip(updates, lanes, strict=True)
        ]  # fmt: skip
        result = await self.session.execute(stmt, rows)
        return {(row.update_id, row.identity): row.id for row in result}

    async def reused(self, update_ids: Sequence[int]) -> set[int]:
        """Which of these update ids more than one stored update carries (a reset of ids)."""
        if not update_ids:
            return set()
        rows = await self.session.scalars(
            select(_t.c.update_id)
            .where(one_of(_t.c.update_id, "ids", array=on_postgresql(self.session)))
            .group_by(_t.c.update_id)
            .having(func.count() > 1),
            {"ids": sorted(set(update_ids))},
        )
        return set(rows)

    async def find(self, update_id: int, identity: str) -> Inbox | None:
        return await self.session.scalar(
            select(Inbox).where(Inbox.update_id == update_id, Inbox.identity == identity)
        )

    async def get(self, inbox_id: int) -> Inbox | None:
        return await self.session.get(Inbox, inbox_id)

    async def mark_done(self, inbox_id: int, at: datetime) -> None:
        await self._finish(inbox_id, "done", at, None)

    async def mark_failed(self, inbox_id: int, error: str, at: datetime) -> None:
        await self._finish(inbox_id, "failed", at, error)

    async def is_pending(self, inbox_id: int) -> bool:
        status = await self.session.scalar(select(Inbox.status).where(Inbox.id == inbox_id))
        return status == "pending"

    async def pending(self, limit: int = 100) -> Sequence[Inbox]:
        """Oldest first (order of arrival): callers process one chat's updates in that order."""
        rows = await self.session.scalars(
            select(Inbox).where(Inbox.status == "pending").order_by(Inbox.id).limit(limit)
        )
        return rows.all()

    async def _finish(self, inbox_id: int, status: str, at: datetime, error: str | None) -> None:
        await self.session.execute(
            update(Inbox)
            .where(Inbox.id == inbox_id)
            .values(status=status, processed_at=at, error=error)
            .execution_options(synchronize_session=False)
        )

    async def finish_pending_many(self, inbox_ids: Sequence[int], at: datetime) -> set[int]:
        """pending → done for several rows in one statement; the ids that were pending."""
        result = await self.session.execute(
            _FINISH[on_postgresql(self.session)], {"ids": list(inbox_ids), "at": at}
        )
        return {row[0] for row in result}
