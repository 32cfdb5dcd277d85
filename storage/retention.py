"""Retention (PIPL): what the bot no longer needs is deleted or anonymised.

- Processed inbox rows (done or failed) and sent outbox rows older than
  RETENTION_PROCESSED_DAYS are deleted: they hold the customers' messages word for word.
- A finished case (closed, cancelled, rejected) older than the profile's `retention_days` is
  anonymised (`anonymise_cases`): its words, return address, chat and waybill, its evidence
  (rows here; the files are the caller's to delete, from the paths returned), the free texts of
  its events and its survey comment. What reports count stays: service, reason, status,
  outcome, rules, times, amounts, and the customer as an id only.

Plain functions on a session, returning counts and paths; the caller commits. `prune_in_batches`
is what the running bot and `aftersales db prune` use: a bounded batch per transaction, so that
neither the process's memory nor the time the database's writer is held grows with the shop's
history (bench/memory_bench.py).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import domain
from storage.models import Case, CaseEvent, Evidence, Inbox, Outbox, Survey

if TYPE_CHECKING:
    from storage.db import Database

FINISHED = (domain.CaseStatus.CLOSED, domain.CaseStatus.CANCELLED, domain.CaseStatus.REJECTED)
ANONYMISED, ERASED = "anonymised", "erased"  # the case events that say it was done
# Event data that a person wrote (or that names a person); the rest are codes and amounts.
FREE_TEXT_KEYS = ("text", "note", "comment", "address", "phone", "name")
BATCH = 500  # cases anonymised, or thousands of processed rows deleted, per transaction


@dataclass(frozen=True)
class PruneReport:
    inbox: int = 0
    outbox: int = 0
    cases: int = 0
    evidence: int = 0
    evidence_paths: tuple[str, ...] = field(default=(), repr=False)

    def summary(self) -> str:
        return (
            f"inbox rows {self.inbox}, outbox rows {self.outbox}, cases anonymised "
            f"{self.cases}, evidence files {self.evidence}"
        )


async def prune(
    session: AsyncSession,
    *,
    now: datetime,
    processed_days: int,
    retention_days: int,
    dry_run: bool = False,
) -> PruneReport:
    """Everything retention removes as of `now`; with `dry_run` only counted."""
    inbox, outbox = await prune_processed(session, now - timedelta(days=processed_days), dry_run)
    case_ids = await finished_cases_before(session, now - timedelta(days=retention_days))
    if dry_run:
        paths = await evidence_paths(session, case_ids)
        count = await _count(session, select(Evidence.id).where(Evidence.case_id.in_(case_ids)))
        return PruneReport(inbox, outbox, len(case_ids), count, tuple(paths))
    removed = await anonymise_cases(session, case_ids, now=now, kind=ANONYMISED)
    return PruneReport(inbox, outbox, len(case_ids), removed.count, tuple(removed.paths))


async def prune_in_batches(
    db: Database,
    *,
    now: datetime,
    processed_days: int,
    retention_days: int,
    committed: Callable[[tuple[str, ...]], Awaitable[None]],
    batch: int = BATCH,
) -> PruneReport:
    """`prune` as a series of transactions of at most `batch` cases (and 10 x `batch` processed
    rows of each kind): memory, statement size (SQLite binds at most 32,766 values) and the
    time other writers wait stay bounded whatever the shop's history. A batch committed stays
    done if a later one fails; the next run carries on (every step is idempotent).
    `committed` gets each batch's evidence files once it has committed, for deletion; the
    report's `evidence_paths` stays empty."""
    cutoff = now - timedelta(days=processed_days)
    inbox = outbox = 0
    while True:
        async with db.transaction() as session:
            deleted = await prune_processed(session, cutoff, False, limit=10 * batch)
        inbox, outbox = inbox + deleted[0], outbox + deleted[1]
        if max(deleted) < 10 * batch:
            break
    cases = evidence = last = 0
    before = now - timedelta(days=retention_days)
    while True:
        async with db.transaction() as session:
            case_ids = await finished_cases_before(session, before, limit=batch, after=last)
            removed = await anonymise_cases(session, case_ids, now=now, kind=ANONYMISED)
        cases, evidence = cases + len(case_ids), evidence + removed.count
        last = case_ids[-1] if case_ids else last
        if removed.paths:
            await committed(tuple(removed.paths))
        if len(case_ids) < batch:
            break
    return PruneReport(inbox, outbox, cases, evidence)


async def prune_processed(
    session: AsyncSession, cutoff: datetime, dry_run: bool, *, limit: int | None = None
) -> tuple[int, int]:
    """Inbox rows processed and outbox rows sent before `cutoff`: deleted (or counted); with
    `limit`, at most that many of each (the oldest ids first)."""
    inbox_where = and_(
        Inbox.status.in_((domain.InboxStatus.DONE, domain.InboxStatus.FAILED)),
        func.coalesce(Inbox.processed_at, Inbox.received_at) < cutoff,
    )
    outbox_where = and_(
        Outbox.status == domain.OutboxStatus.SENT,
        func.coalesce(Outbox.sent_at, Outbox.created_at) < cutoff,
    )
    if dry_run:
        return (
            await _count(session, select(Inbox.id).where(inbox_where)),
            await _count(session, select(Outbox.id).where(outbox_where)),
        )
    if limit is not None:
        inbox_where = Inbox.id.in_(select(Inbox.id).where(inbox_where).order_by(Inbox.id)
                                   .limit(limit).scalar_subquery())  # fmt: skip
        outbox_where = Outbox.id.in_(select(Outbox.id).where(outbox_where).order_by(Outbox.id)
                                     .limit(limit).scalar_subquery())  # fmt: skip
    inbox = await session.execute(delete(Inbox).where(inbox_where))
    outbox = await session.execute(delete(Outbox).where(outbox_where))
    return _rowcount(inbox), _rowcount(outbox)


async def finished_cases_before(
    session: AsyncSession, cutoff: datetime, *, limit: int | None = None, after: int = 0
) -> list[int]:
    """Closed, cancelled or rejected cases last changed before `cutoff`, not anonymised yet
    (with `limit`, the first that many by id; `after`: only ids above it, so that a series of
    batches does not walk the ones it has done again)."""
    done = exists().where(CaseEvent.case_id == Case.id, CaseEvent.kind.in_((ANONYMISED, ERASED)))
    query = (
        select(Case.id)
        .where(Case.status.in_(FINISHED))
        .where(func.coalesce(Case.closed_at, Case.updated_at) < cutoff)
        .where(~done, Case.id > after)
        .order_by(Case.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def evidence_paths(session: AsyncSession, case_ids: list[int]) -> list[str]:
    query = select(Evidence.local_path).where(
        Evidence.case_id.in_(case_ids), Evidence.local_path.is_not(None)
    )
    return [p for p in (await session.scalars(query.order_by(Evidence.id))).all() if p]


@dataclass(frozen=True)
class Removed:
    count: int  # evidence rows deleted
    paths: list[str]  # their files, for the caller to delete once committed


async def anonymise_cases(
    session: AsyncSession,
    case_ids: list[int],
    *,
    now: datetime,
    kind: str,
) -> Removed:
    """The cases' personal fields cleared and an audit event (`kind`, actor system) added once
    per case; their evidence rows deleted (the files' paths returned)."""
    if not case_ids:
        return Removed(0, [])
    paths = await evidence_paths(session, case_ids)
    gone = await session.execute(delete(Evidence).where(Evidence.case_id.in_(case_ids)))
    await session.execute(
        update(Case)
        .where(Case.id.in_(case_ids))
        .values(
            description="",
            return_address=None,
            chat_id=None,
            waybill=None,
            updated_at=now,
            version=Case.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    for case_id, details in (
        await session.execute(select(Case.id, Case.details).where(Case.id.in_(case_ids)))
    ).all():
        cleaned = _without_waybill(details or {})
        if cleaned != (details or {}):
            await session.execute(
                update(Case)
                .where(Case.id == case_id)
                .values(details=cleaned)
                .execution_options(synchronize_session=False)
            )
    events = await session.execute(
        select(CaseEvent.id, CaseEvent.data).where(CaseEvent.case_id.in_(case_ids))
    )
    cleared = [
        {"id": event_id, "data": {k: ("" if k in FREE_TEXT_KEYS and v else v)
                                  for k, v in data.items()}}
        for event_id, data in events.all()
        if isinstance(data, dict) and any(data.get(k) for k in FREE_TEXT_KEYS)
    ]  # fmt: skip
    if cleared:  # one executemany (an UPDATE by primary key per row), not a trip per event
        await session.execute(update(CaseEvent), cleared)
    await session.execute(
        update(Survey)
        .where(Survey.case_id.in_(case_ids), Survey.comment.is_not(None))
        .values(comment=None)
    )
    marked = exists().where(CaseEvent.case_id == Case.id, CaseEvent.kind == kind)
    unmarked = (
        await session.scalars(
            select(Case.id).where(Case.id.in_(case_ids), ~marked).order_by(Case.id)
        )
    ).all()
    for case_id in unmarked:
        session.add(
            CaseEvent(case_id=case_id, at=now, actor=domain.Actor.SYSTEM, kind=kind, data={})
        )
    await session.flush()
    return Removed(_rowcount(gone), paths)


def _without_waybill(details: dict[str, Any]) -> dict[str, Any]:
    """The outbound parcel's carrier stays (statistics); its number goes."""
    outbound = details.get("outbound")
    if isinstance(outbound, dict) and outbound.get("waybill"):
        return {**details, "outbound": {**outbound, "waybill": None}}
    return details


async def _count(session: AsyncSession, query: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)
