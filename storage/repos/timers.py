"""Clocks that fall due (first response, deadlines, reminders, surveys), surviving restarts.

A worker claims due timers for a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so two
workers never claim the same one); the unit of work that handles one marks it fired in the
same transaction as its effects, guarded, so it fires once even if two claims overlap after
a lease ran out. A worker that dies mid-way loses nothing: its claims expire and are taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update

from storage.models import Timer
from storage.repos.base import Repo
from storage.views import TimerView

_t = Timer.__table__
_COLUMNS = (_t.c.id, _t.c.kind, _t.c.due_at, _t.c.case_id, _t.c.chat_id, _t.c.payload)
_LIVE = and_(_t.c.fired_at.is_(None), _t.c.cancelled_at.is_(None))


def timer_row(kind: str, due_at: datetime, now: datetime, case_id: int | None = None,
              chat_id: int | None = None, payload: dict[str, Any] | None = None
              ) -> dict[str, Any]:  # fmt: skip
    """A timer to start, as `TimerRepo.add_many` takes it."""
    return {"kind": kind, "due_at": due_at, "case_id": case_id, "chat_id": chat_id,
            "payload": payload or {}, "created_at": now}  # fmt: skip


class TimerRepo(Repo):
    async def add(
        self,
        kind: str,
        due_at: datetime,
        *,
        now: datetime,
        case_id: int | None = None,
        chat_id: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> int:
        """One timer at once; its id (for tools and tests: a unit's turns hold theirs)."""
        row = timer_row(kind, due_at, now, case_id, chat_id, payload)
        return int((await self.session.execute(insert(_t).returning(_t.c.id), row)).scalar_one())

    async def add_many(self, rows: list[dict[str, Any]]) -> None:
        """Rows made by `timer_row`, in one statement."""
        if rows:
            await self.session.execute(insert(_t), rows)

    async def claim_due(
        self, now: datetime, lease_until: datetime, worker: str, limit: int = 100
    ) -> list[TimerView]:
        """Due timers nobody holds, claimed by `worker` until `lease_until`; soonest first."""
        free = or_(_t.c.lease_until.is_(None), _t.c.lease_until <= now)
        due = select(_t.c.id).where(_LIVE, _t.c.due_at <= now, free).order_by(_t.c.due_at)
        due = due.limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        ids = list(await self.session.scalars(due))
        if not ids:
            return []
        rows = await self.session.execute(
            update(_t)
            .where(_t.c.id.in_(ids))
            .values(claimed_by=worker, lease_until=lease_until)
            .returning(*_COLUMNS)
        )
        return sorted((TimerView(**row._mapping) for row in rows), key=lambda t: t.due_at)

    async def fire(self, timer_id: int, now: datetime) -> bool:
        """Mark it fired; False if it already fired or was cancelled (do nothing then)."""
        result = await self.session.execute(
            update(_t).where(_t.c.id == timer_id, _LIVE).values(fired_at=now)
        )
        return result.rowcount == 1  # type: ignore[attr-defined]

    async def cancel(self, case_id: int, kinds: Sequence[str], now: datetime) -> None:
        """The clocks of this case that no longer matter (answered in time, closed)."""
        await self.session.execute(
            update(_t)
            .where(_t.c.case_id == case_id, _t.c.kind.in_(kinds), _LIVE)
            .values(cancelled_at=now)
        )

    async def pending(self, case_id: int | None = None) -> list[TimerView]:
        stmt = select(*_COLUMNS).where(_LIVE).order_by(_t.c.due_at, _t.c.id)
        if case_id is not None:
            stmt = stmt.where(_t.c.case_id == case_id)
        return [TimerView(**row._mapping) for row in await self.session.execute(stmt)]

    async def next_due(self) -> datetime | None:
        """When the soonest live timer falls due (the worker sleeps until then)."""
        return await self.session.scalar(select(func.min(_t.c.due_at)).where(_LIVE))
