"""Raw Telegram updates, stored before they are confirmed so none is lost or done twice."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from storage.models import Inbox
from storage.repos.base import Repo, dialect_insert


class InboxRepo(Repo):
    async def record(
        self, update_id: int, chat_id: int | None, payload: dict[str, Any], at: datetime
    ) -> bool:
        """Store an update; False when this update_id was seen before (Telegram re-sends)."""
        stmt = (
            dialect_insert(self.session, Inbox.__table__)
            .values(
                update_id=update_id,
                chat_id=chat_id,
                payload=payload,
                status="pending",
                received_at=at,
            )
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(Inbox.__table__.c.update_id)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none() is not None

    async def record_many(
        self, updates: Sequence[tuple[int, int | None, dict[str, Any]]], at: datetime
    ) -> set[int]:
        """Store a batch in one statement; the update_ids that were new (not seen before)."""
        if not updates:
            return set()
        table = Inbox.__table__
        # One cached statement run as an executemany (SQLAlchemy batches it into multi-row
        # INSERTs itself): a statement built with the rows inside would be compiled anew for
        # every batch, binding each value on the way.
        stmt = (
            dialect_insert(self.session, table)
            .values(status="pending")
            .on_conflict_do_nothing(index_elements=["update_id"])
            .returning(table.c.update_id)
        )
        rows = [
            {"update_id": u, "chat_id": c, "payload": p, "received_at": at} for u, c, p in updates
        ]
        return set((await self.session.execute(stmt, rows)).scalars())

    async def get(self, update_id: int) -> Inbox | None:
        return await self.session.get(Inbox, update_id)

    async def mark_done(self, update_id: int, at: datetime) -> None:
        await self._finish(update_id, "done", at, None)

    async def mark_failed(self, update_id: int, error: str, at: datetime) -> None:
        await self._finish(update_id, "failed", at, error)

    async def is_done(self, update_id: int) -> bool:
        status = await self.session.scalar(select(Inbox.status).where(Inbox.update_id == update_id))
        return status == "done"

    async def pending(self, limit: int = 100) -> Sequence[Inbox]:
        """Oldest first; callers process one chat's updates in update_id order."""
        rows = await self.session.scalars(
            select(Inbox).where(Inbox.status == "pending").order_by(Inbox.update_id).limit(limit)
        )
        return rows.all()

    async def _finish(self, update_id: int, status: str, at: datetime, error: str | None) -> None:
        await self.session.execute(
            update(Inbox)
            .where(Inbox.update_id == update_id)
            .values(status=status, processed_at=at, error=error)
            .execution_options(synchronize_session=False)
        )

    async def finish_pending_many(self, update_ids: Sequence[int], at: datetime) -> set[int]:
        """pending → done for several updates in one statement; the ids that were pending."""
        table = Inbox.__table__
        result = await self.session.execute(
            update(table)
            .where(table.c.update_id.in_(update_ids), table.c.status == "pending")
            .values(status="done", processed_at=at, error=None)
            .returning(table.c.update_id)
        )
        return {row[0] for row in result}
