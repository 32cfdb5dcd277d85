"""The demo shop: coverage of the cases the bot must handle, idempotent re-runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.cli import main
from dialogs.policy import Claim, ItemFacts, load_policy
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


def _value(order: dict[str, Any]) -> Decimal:
    """What the escalation compares: the order's goods, without shipping."""
    return sum((Decimal(i["unit_price"]) * i["quantity"] for i in order["items"]), Decimal("0"))


def _facts(order: dict[str, Any]) -> ItemFacts:
    """The first item of a demo order as the conversation hands it to the policy."""
    line = order["items"][0]

    def time(key: str) -> datetime | None:
        return datetime.fromisoformat(order[key]) if key in order else None

    placed = time("placed_at")
    assert placed is not None
    return ItemFacts(
        category=line["category"],
        purchased_at=placed,
        paid_at=time("paid_at"),
        shipped_at=time("shipped_at"),
        delivered_at=time("delivered_at"),
        payment=order["payment_method"],
        price=Decimal(line["unit_price"]),
        order_value=_value(order),
    )


@pytest.mark.parametrize("phone", ["+8613800138000", "+447700900123"])
def test_a_high_value_order_shows_the_person_path(phone: str) -> None:
    """王小明 and Alice each have one delivered order above the standard profile's
    escalation.order_value_over, whose quality return a person decides."""
    policy = load_policy("standard")
    threshold = policy.spec.escalation.order_value_over
    assert threshold is not None
    mine = sorted(
        (o for o in demo_orders(NOW) if o["customer"]["phone"] == phone),
        key=lambda o: o["placed_at"],
        reverse=True,
    )
    [high] = [o for o in mine if _value(o) > threshold]
    assert high["status"] == "delivered"
    claim = Claim(_facts(high), "return", "quality", evidence_count=1)
    decision = policy.decide(claim, NOW)
    assert decision.outcome == "needs_agent"
    assert decision.rules == ("standard.return.quality", "standard.escalation.order_value")
    assert decision.explanation.values["cause"] == "order_value"
    # The order lists the end-to-end tests walk (5 a page, newest first) keep their shape: as
    # many pages as without the order, and a full first page as it was.
    rest = [o for o in mine if o is not high]
    assert (len(mine) + 4) // 5 == (len(rest) + 4) // 5
    if len(rest) >= 5:
        assert mine[:5] == rest[:5]


def test_only_the_high_value_orders_are_above_the_line() -> None:
    """The other orders keep their roles: the Dyson, for one, stays just below the line."""
    threshold = load_policy("standard").spec.escalation.order_value_over
    assert threshold is not None
    above = [o["order_no"][-5:] for o in demo_orders(NOW) if _value(o) > threshold]
    assert above == ["90019", "90020"]


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
        orders, _ = await OrderRepo(s).page(wang.id, 0, 50)
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
