"""Due clocks (deadlines, reminders, surveys) that survive restarts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from storage.models import Timer
from storage.repos.base import Repo
from storage.types import utcnow


class TimerRepo(Repo):
    async def add(
        self,
        kind: str,
        due_at: datetime,
        case_id: int | None = None,
        payload: dict[str, Any] | None = None,
        *,
        now: datetime | None = None,
    ) -> Timer:
        timer = Timer(
            kind=kind,
            due_at=due_at,
            case_id=case_id,
            payload=payload or {},
            created_at=now or utcnow(),
        )
        self.session.add(timer)
        await self.session.flush()
        return timer

    async def due(self, now: datetime, limit: int = 100) -> Sequence[Timer]:
        rows = await self.session.scalars(
            select(Timer)
            .where(Timer.fired_at.is_(None), Timer.due_at <= now)
            .order_by(Timer.due_at, Timer.id)
            .limit(limit)
        )
        return rows.all()

    async def pending_for_case(self, case_id: int, kind: str | None = None) -> Sequence[Timer]:
        stmt = select(Timer).where(Timer.case_id == case_id, Timer.fired_at.is_(None))
        if kind is not None:
            stmt = stmt.where(Timer.kind == kind)
        return (await self.session.scalars(stmt.order_by(Timer.due_at))).all()

    async def mark_fired(self, timer_id: int, at: datetime) -> bool:
        """Claim the timer; False if another worker fired it first."""
        result = await self.session.execute(
            update(Timer)
            .where(Timer.id == timer_id, Timer.fired_at.is_(None))
            .values(fired_at=at)
            .execution_options(synchronize_session="fetch")
        )
        return bool(getattr(result, "rowcount", 0))
