"""Figures for the operator's /healthz and /metrics: plain numbers, read at scrape time."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text

from storage.domain import InboxStatus
from storage.models import OUTBOX_UNSENT, Case, Inbox, Outbox, Timer
from storage.repos.base import Repo


@dataclass(frozen=True, slots=True)
class OpsFigures:
    inbox_pending: int
    inbox_oldest_age: float  # seconds since the oldest pending update was stored (0: none)
    outbox_pending: int  # pending or being sent
    outbox_oldest_age: float  # seconds since the oldest of them was queued (0: none)
    timers_due: int  # live timers whose due_at has passed
    cases_by_status: dict[str, int] = field(default_factory=dict)


class OpsRepo(Repo):
    async def ping(self) -> None:
        """`SELECT 1`: raises if the database does not answer."""
        await self.session.execute(text("SELECT 1"))

    async def figures(self, now: datetime) -> OpsFigures:
        inbox_n, inbox_oldest = (
            await self.session.execute(
                select(func.count(), func.min(Inbox.received_at)).where(
                    Inbox.status == InboxStatus.PENDING
                )
            )
        ).one()
        outbox_n, outbox_oldest = (
            await self.session.execute(
                select(func.count(), func.min(Outbox.created_at)).where(text(OUTBOX_UNSENT))
            )
        ).one()
        timers_due = await self.session.scalar(
            select(func.count()).where(
                Timer.fired_at.is_(None), Timer.cancelled_at.is_(None), Timer.due_at <= now
            )
        )
        rows = await self.session.execute(select(Case.status, func.count()).group_by(Case.status))
        return OpsFigures(
            inbox_pending=int(inbox_n or 0),
            inbox_oldest_age=_age(now, inbox_oldest),
            outbox_pending=int(outbox_n or 0),
            outbox_oldest_age=_age(now, outbox_oldest),
            timers_due=int(timers_due or 0),
            cases_by_status={str(status): int(n) for status, n in rows.all()},
        )


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0
