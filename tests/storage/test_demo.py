"""The demo shop: coverage of the cases the bot must handle, idempotent re-runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main
from storage.db import Database
from storage.demo import CUSTOMERS, demo_orders, load_demo
from storage.import_validate import validate_order
from storage.models import Customer, Order, OrderItem
from storage.repos import CustomerRepo, OrderRepo
from tests.factories import make_case

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def test_demo_orders_cover_the_story() -> None:
    orders = demo_orders(NOW)
    assert len(orders) >= 12
    assert all(not isinstance(validate_order(o), list) for o in orders)
    categories = {i["category"] for o in orders for i in o["items"]}
    assert {
        "electronics",
        "appliances",
        "apparel",
        "fresh_food",
        "custom_made",
        "digital",
        "periodicals",
    } <= categories
    ages = {
        round((NOW - datetime.fromisoformat(o["delivered_at"])) / timedelta(days=1))
        for o in orders
        if o.get("delivered_at")
    }
    assert {1, 5, 10, 20, 200, 400} <= ages
    statuses = [o["status"] for o in orders]
    assert "shipped" in statuses and "paid" in statuses
    assert any(o["payment_method"] == "cod" for o in orders)
    assert any(len(o["items"]) >= 3 for o in orders)
    assert all(o["order_no"].startswith("DD") and len(o["order_no"]) == 15 for o in orders)
    assert len({o["order_no"] for o in orders}) == len(orders)
    languages = {o["customer"]["language"] for o in orders}
    assert languages == {"zh", "en"}
    assert orders[0]["customer"]["phone"] == CUSTOMERS[0]["phone"] == "+8613800138000"


async def test_load_demo_is_idempotent(db: Database) -> None:
    first = await load_demo(db, NOW)
    assert first.ok and first.created == len(demo_orders(NOW))
    second = await load_demo(db, NOW + timedelta(hours=1))
    assert second.ok and (second.created, second.updated) == (0, first.created)
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Customer)) == len(CUSTOMERS)
        assert await s.scalar(select(func.count()).select_from(Order)) == first.created
        wang = await CustomerRepo(s).by_phone("+8613800138000")
        assert wang.name == "王小明" and wang.language == "zh"
        orders = await OrderRepo(s).list_for_customer(wang.id, 0, 50)
        assert orders[0].status == "paid"  # newest first


async def test_load_demo_next_day_replaces_old_orders_but_keeps_those_with_cases(
    db: Database,
) -> None:
    await load_demo(db, NOW)
    async with db.transaction() as s:
        kept = await OrderRepo(s).by_no(demo_orders(NOW)[0]["order_no"])
        await make_case(s, kept)
    later = NOW + timedelta(days=3)
    await load_demo(db, later)
    async with db.read() as s:
        numbers = set(await s.scalars(select(Order.order_no)))
        assert numbers == {o["order_no"] for o in demo_orders(later)} | {kept.order_no}
        assert await s.scalar(select(func.count()).select_from(OrderItem)) > 0


def test_cli_demo_data(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    assert main(["demo-data", "--now", "2026-11-26T10:00:00+08:00"]) == 0
    out = capsys.readouterr().out
    assert "created, 0 updated), 0 bad records" in out and "+8613800138000" in out
    assert main(["demo-data", "--now", "2026-11-26T10:00:00"]) == 2
    assert "needs a UTC offset" in capsys.readouterr().err
