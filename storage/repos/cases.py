"""Cases, their numbers and their audit trail."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from storage.models import Case, CaseCounter, CaseEvent
from storage.repos.base import Repo, dialect_insert

_CASE_LOADS = (joinedload(Case.order), joinedload(Case.item), joinedload(Case.customer))


class CaseRepo(Repo):
    async def next_case_no(self, now: datetime, tz: str) -> str:
        """`AS-YYYYMMDD-NNNN`: the shop's local day and a per-day counter.

        One atomic upsert-increment, so concurrent workers on PostgreSQL never share a number.
        """
        day = now.astimezone(ZoneInfo(tz)).strftime("%Y%m%d")
        table = CaseCounter.__table__
        stmt = dialect_insert(self.session, table).values(day=day, last=1)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.day], set_={"last": table.c.last + 1}
        ).returning(table.c.last)
        number = (await self.session.execute(stmt)).scalar_one()
        return f"AS-{day}-{number:04d}"

    async def create(self, *, now: datetime, tz: str, **fields: Any) -> Case:
        """A new case numbered for `now` in the shop's time zone `tz`; fields are Case columns."""
        case = Case(
            case_no=await self.next_case_no(now, tz),
            created_at=now,
            updated_at=now,
            **fields,
        )
        self.session.add(case)
        await self.session.flush()
        return case

    async def get(self, case_id: int) -> Case | None:
        return await self.session.get(Case, case_id, options=list(_CASE_LOADS))

    async def by_no(self, case_no: str) -> Case | None:
        return await self.session.scalar(
            select(Case).where(Case.case_no == case_no).options(*_CASE_LOADS)
        )

    async def list_for_customer(self, customer_id: int, limit: int = 10) -> Sequence[Case]:
        rows = await self.session.scalars(
            select(Case)
            .where(Case.customer_id == customer_id)
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(limit)
            .options(*_CASE_LOADS)
        )
        return rows.all()

    async def add_event(
        self,
        case: Case,
        actor: str,
        kind: str,
        data: dict[str, Any] | None,
        at: datetime,
        actor_id: int | None = None,
        *,
        flush: bool = True,
    ) -> CaseEvent:
        """`flush=False` leaves the INSERT to the next flush (several rows, one statement)."""
        if case.id is None:
            await self.session.flush()
        event = CaseEvent(
            case_id=case.id, actor=actor, actor_id=actor_id, kind=kind, data=data or {}, at=at
        )
        self.session.add(event)
        if flush:
            await self.session.flush()
        return event

    async def events(self, case_id: int) -> Sequence[CaseEvent]:
        rows = await self.session.scalars(
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id)
            .order_by(CaseEvent.at, CaseEvent.id)
        )
        return rows.all()
