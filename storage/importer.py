"""Import orders from a file: validate each record fully, then upsert the good ones.

A bad record is reported as `FILE:LINE: field: problem` and nothing of it is written; good
records are written in batches, each record inside its own savepoint.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from storage.db import Database
from storage.import_format import RawRecord, SyntaxProblem, read_records
from storage.import_validate import FieldProblem, validate_order
from storage.records import OrderRecord
from storage.repos import CustomerRepo, OrderRepo

BATCH_SIZE = 200  # bounds how long one import holds SQLite's write lock


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    bad: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated

    @property
    def ok(self) -> bool:
        return self.bad == 0

    def summary(self) -> str:
        return (
            f"imported {self.imported} orders ({self.created} created, {self.updated} updated), "
            f"{self.bad} bad records"
        )


@dataclass(frozen=True, slots=True)
class _Good:
    line: int
    record: OrderRecord


async def import_file(db: Database, path: str | Path, now: datetime) -> ImportReport:
    """Raises OSError / UnicodeDecodeError if the file cannot be read at all."""
    text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
    return await import_records(db, read_records(text), source=str(path), now=now)


async def import_records(
    db: Database,
    records: Iterable[RawRecord | SyntaxProblem],
    *,
    source: str,
    now: datetime,
) -> ImportReport:
    report = ImportReport()
    good: list[_Good] = []
    first_line: dict[str, int] = {}
    for item in records:
        if isinstance(item, SyntaxProblem):
            report.bad += 1
            report.errors.append(f"{source}:{item.line}: json: {item.message}")
            continue
        result = validate_order(item.value)
        if isinstance(result, OrderRecord) and result.order_no in first_line:
            seen = first_line[result.order_no]
            result = [FieldProblem("order_no", f"repeats the order at line {seen}")]
        if isinstance(result, list):
            report.bad += 1
            report.errors.extend(f"{source}:{item.line}: {p.field}: {p.message}" for p in result)
            continue
        first_line[result.order_no] = item.line
        good.append(_Good(item.line, result))
    for start in range(0, len(good), BATCH_SIZE):
        await _write_batch(db, good[start : start + BATCH_SIZE], report, source, now)
    if db.is_postgresql and report.imported:
        # The planner's statistics brought up to date now rather than when autovacuum next
        # looks: the bot's statements are prepared once per connection, and a plan made
        # while the tables looked empty (a hash of all order items per order asked) stays.
        async with db.transaction() as session:
            await session.execute(text("ANALYZE customers, orders, order_items"))
    return report


async def _write_batch(
    db: Database, batch: list[_Good], report: ImportReport, source: str, now: datetime
) -> None:
    async with db.transaction() as session:
        customers, orders = CustomerRepo(session), OrderRepo(session)
        for good in batch:
            rec = good.record
            try:
                async with session.begin_nested():
                    customer = await customers.upsert(
                        phone=rec.customer.phone,
                        name=rec.customer.name,
                        language=rec.customer.language,
                    )
                    _, created = await orders.upsert(rec, customer.id, now)
            except SQLAlchemyError as exc:
                report.bad += 1
                cause = getattr(exc, "orig", None) or exc
                report.errors.append(f"{source}:{good.line}: record: not stored: {cause}")
                continue
            if created:
                report.created += 1
            else:
                report.updated += 1
