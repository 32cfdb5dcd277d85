"""Constraints hold on both backends (SQLite needs PRAGMA foreign_keys=ON for FKs)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.models import Conversation, Order, Survey
from storage.repos import ConversationRepo
from tests.factories import NOW, make_case, make_customer, make_order


async def test_duplicate_order_no_rejected(db: Database) -> None:
    async with db.transaction() as s:
        c = await make_customer(s)
        await make_order(s, c, order_no="DD202611200001")
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            await make_order(s, c, order_no="DD202611200001")


async def test_duplicate_case_no_rejected(db: Database) -> None:
    async with db.transaction() as s:
        c = await make_customer(s)
        o = await make_order(s, c)
        await make_case(s, o, case_no="AS-20261126-0001")
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            await make_case(s, o, case_no="AS-20261126-0001")


async def test_foreign_keys_enforced(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            s.add(
                Order(
                    order_no="X1",
                    customer_id=424242,
                    status="paid",
                    placed_at=NOW,
                    payment_method="online",
                    currency="CNY",
                    shipping_fee=Decimal("0"),
                )
            )


async def test_check_constraints(db: Database) -> None:
    async with db.transaction() as s:
        c = await make_customer(s)
        o = await make_order(s, c)
        case = await make_case(s, o)
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            s.add(Survey(case_id=case.id, asked_at=NOW, rating=6))
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            await make_order(s, c, status="lost")


async def test_one_open_conversation_per_chat(db: Database) -> None:
    now = datetime(2026, 11, 26, tzinfo=UTC)
    async with db.transaction() as s:
        first = await ConversationRepo(s).create(5, 5, "zh", "identify", now=now)
    with pytest.raises(IntegrityError):
        async with db.transaction() as s:
            await ConversationRepo(s).create(5, 5, "zh", "identify", now=now)
    async with db.transaction() as s:
        table = Conversation.__table__
        await s.execute(table.update().where(table.c.id == first.id).values(is_open=False))
        await ConversationRepo(s).create(5, 5, "en", "menu", now=now)
        await ConversationRepo(s).create(6, 6, "en", "menu", now=now)
    async with db.transaction() as s:
        rows = (await s.scalars(Conversation.__table__.select())).all()
        assert len(rows) == 3


async def test_naive_datetimes_refused(db: Database) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with db.transaction() as s:
            await make_customer(s)
            await ConversationRepo(s).create(1, 1, "zh", "x", now=datetime(2026, 1, 1))


async def test_datetimes_come_back_aware_utc(db: Database) -> None:
    local = datetime.fromisoformat("2026-11-20T15:30:00+08:00")
    async with db.transaction() as s:
        c = await make_customer(s)
        o = await make_order(s, c, placed_at=local)
    async with db.transaction() as s:
        s.expunge_all()
        got = await s.get(Order, o.id)
        assert got.placed_at == local
        assert got.placed_at.tzinfo == UTC
