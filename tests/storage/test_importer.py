"""The order importer: validation, error lines, upserts, and the CLI's exit codes."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from bot.cli import main
from storage import migrate
from storage.db import Database
from storage.importer import import_file
from storage.models import Customer, Order, OrderItem
from storage.repos import CustomerRepo, OrderRepo
from tests.factories import make_case

NOW = datetime(2026, 11, 26, 2, tzinfo=UTC)

GOOD: dict[str, Any] = {
    "order_no": "DD2026112000123",
    "customer": {"phone": "+8613800138000", "name": "王小明", "language": "zh"},
    "placed_at": "2026-11-18T10:02:00+08:00",
    "paid_at": "2026-11-18T10:03:10+08:00",
    "shipped_at": "2026-11-19T09:00:00+08:00",
    "delivered_at": "2026-11-20T15:30:00+08:00",
    "status": "delivered",
    "payment_method": "online",
    "currency": "CNY",
    "shipping_fee": "10.00",
    "items": [
        {
            "sku": "PH-001",
            "name": "Phone X",
            "category": "electronics",
            "quantity": 1,
            "unit_price": "3999.00",
        }
    ],
}


def order(order_no: str = "DD2026112000123", /, **changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(GOOD)
    data["order_no"] = order_no
    for path, value in changes.items():
        target = data
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last = keys[-1]
        if value is _DROP:
            del target[last]
        else:
            target[last] = value
    return data


_DROP = object()


def jsonl(path: Path, *records: dict[str, Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


async def count(db: Database, model: type) -> int:
    async with db.read() as s:
        return await s.scalar(select(func.count()).select_from(model))


async def test_good_json_lines_file(db: Database, tmp_path: Path) -> None:
    second = order(
        "DD2026112100007",
        customer={"phone": "13912345678", "name": "李娜"},
        status="paid",
        shipped_at=None,
        delivered_at=_DROP,
        payment_method="online",
        items=[
            {"sku": "A", "name": "袜子", "category": "apparel", "quantity": 3, "unit_price": "9.9"},
            {"sku": "B", "name": "帽子", "category": "apparel", "quantity": 1, "unit_price": "59"},
        ],
    )
    path = jsonl(tmp_path / "orders.jsonl", GOOD, second)
    report = await import_file(db, path, NOW)
    assert report.errors == []
    assert (report.created, report.updated, report.bad) == (2, 0, 0)
    assert report.summary() == "imported 2 orders (2 created, 0 updated), 0 bad records"
    async with db.read() as s:
        lina = await CustomerRepo(s).by_phone("+8613912345678")
        assert lina is not None and lina.language == "zh"
        got = await OrderRepo(s).by_no("DD2026112100007")
        assert got.customer_id == lina.id and got.delivered_at is None
        assert [(i.sku, i.quantity, i.unit_price) for i in got.items] == [
            ("A", 3, Decimal("9.90")),
            ("B", 1, Decimal("59.00")),
        ]
        first = await OrderRepo(s).by_no("DD2026112000123")
        assert first.delivered_at == datetime(2026, 11, 20, 7, 30, tzinfo=UTC)
        assert first.shipping_fee == Decimal("10.00")


async def test_json_array_errors_carry_record_start_lines(db: Database, tmp_path: Path) -> None:
    bad = order("DD2", customer={"phone": "12", "name": "X"})
    text = (
        "[\n"
        + json.dumps(GOOD, indent=2, ensure_ascii=False)
        + ",\n"
        + json.dumps(bad, indent=2, ensure_ascii=False)
        + "\n]\n"
    )
    bad_line = 2 + json.dumps(GOOD, indent=2).count("\n") + 1
    path = tmp_path / "orders.json"
    path.write_text(text, "utf-8")
    report = await import_file(db, path, NOW)
    assert report.errors == [f"{path}:{bad_line}: customer.phone: not a valid phone number: '12'"]
    assert (report.created, report.bad) == (1, 1)
    assert await count(db, Order) == 1
    assert await count(db, Customer) == 1


BAD_FIELDS = [
    ({"order_no": ""}, "order_no: must not be empty"),
    ({"order_no": _DROP}, "order_no: required"),
    ({"order_no": "DD 1"}, "order_no: must not contain spaces"),
    ({"customer": _DROP}, "customer: required"),
    ({"customer__phone": "abc"}, "customer.phone: not a valid phone number: 'abc'"),
    ({"customer__phone": "+861380013800"}, "customer.phone: not a valid phone number"),
    ({"customer__name": " "}, "customer.name: must not be empty"),
    ({"customer__language": "fr"}, "customer.language: must be one of zh, en"),
    ({"placed_at": "2026-11-18T10:02:00"}, "placed_at: needs a UTC offset"),
    ({"placed_at": "yesterday"}, "placed_at: not an ISO 8601 time"),
    ({"placed_at": _DROP}, "placed_at: required"),
    ({"paid_at": 1700000000}, "paid_at: must be an ISO 8601 string"),
    ({"status": "lost"}, "status: must be one of pending, paid, shipped, delivered, cancelled"),
    ({"payment_method": "card"}, "payment_method: must be one of online, cod"),
    ({"currency": "cny"}, "currency: must be a 3-letter upper-case code"),
    ({"shipping_fee": 10}, 'shipping_fee: must be a decimal string such as "10.00"'),
    ({"shipping_fee": "-1.00"}, "shipping_fee: must not be negative"),
    ({"shipping_fee": "1.005"}, "shipping_fee: not an amount with at most 2 decimals"),
    ({"items": []}, "items: required: a non-empty list"),
    ({"items__0__sku": ""}, "items[0].sku: must not be empty"),
    ({"items__0__name": _DROP}, "items[0].name: required"),
    ({"items__0__category": "toys"}, "items[0].category: must be one of electronics"),
    ({"items__0__quantity": 0}, "items[0].quantity: must be a positive integer"),
    ({"items__0__quantity": "2"}, "items[0].quantity: must be a positive integer"),
    ({"items__0__unit_price": "abc"}, "items[0].unit_price: not an amount"),
    ({"items__0__unit_price": _DROP}, "items[0].unit_price: required"),
    ({"delivered_at": "2026-11-19T08:00:00+08:00"}, "delivered_at: must not be before shipped_at"),
    ({"paid_at": "2026-11-18T09:00:00+08:00"}, "paid_at: must not be before placed_at"),
    ({"delivered_at": None}, "delivered_at: required when status is delivered"),
    ({"status": "shipped"}, "delivered_at: must be empty while status is shipped"),
    ({"status": "paid"}, "shipped_at: must be empty while status is paid"),
    ({"status": "pending"}, "paid_at: must be empty while status is pending"),
]


@pytest.mark.parametrize(("changes", "expected"), BAD_FIELDS)
async def test_each_bad_field_is_reported(
    db: Database, tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    path = jsonl(tmp_path / "o.jsonl", GOOD | {"order_no": "OK1"}, order("DD9", **changes))
    report = await import_file(db, path, NOW)
    assert report.bad == 1 and report.created == 1
    assert any(e.startswith(f"{path}:2: {expected}") for e in report.errors), report.errors
    assert await count(db, Order) == 1


async def test_duplicate_sku_and_record_not_object(db: Database, tmp_path: Path) -> None:
    items = [GOOD["items"][0], GOOD["items"][0]]
    path = tmp_path / "o.jsonl"
    path.write_text(json.dumps(order(items=items)) + "\n[1]\n", "utf-8")
    report = await import_file(db, path, NOW)
    assert report.errors == [
        f"{path}:1: items[1].sku: duplicate sku 'PH-001' in this order",
        f"{path}:2: record: must be a JSON object",
    ]
    assert await count(db, Customer) == 0


async def test_cod_may_be_paid_on_delivery(db: Database, tmp_path: Path) -> None:
    cod = order(
        payment_method="cod",
        paid_at="2026-11-20T15:30:00+08:00",
    )
    shipped_cod = order("DD2", payment_method="cod", status="shipped", paid_at=None)
    shipped_cod["delivered_at"] = None
    report = await import_file(db, jsonl(tmp_path / "o.jsonl", cod, shipped_cod), NOW)
    assert report.errors == [] and report.created == 2


async def test_malformed_json_lines(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "o.jsonl"
    path.write_text(json.dumps(GOOD) + '\n{"order_no": \n', "utf-8")
    report = await import_file(db, path, NOW)
    assert report.errors == [f"{path}:2: json: Expecting value (column 14)"]
    assert (report.created, report.bad) == (1, 1)


async def test_duplicate_order_in_one_file(db: Database, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "o.jsonl", GOOD, GOOD)
    report = await import_file(db, path, NOW)
    assert report.errors == [f"{path}:2: order_no: repeats the order at line 1"]


async def test_reimport_updates_order_customer_and_items(db: Database, tmp_path: Path) -> None:
    first = order(
        items=[
            GOOD["items"][0],
            {"sku": "CASE", "name": "Case", "category": "other", "quantity": 1, "unit_price": "9"},
            {"sku": "GONE", "name": "Gone", "category": "other", "quantity": 1, "unit_price": "1"},
        ]
    )
    await import_file(db, jsonl(tmp_path / "a.jsonl", first), NOW)
    async with db.transaction() as s:
        got = await OrderRepo(s).by_no(GOOD["order_no"])
        got.items.sort(key=lambda i: i.sku != "CASE")
        await make_case(s, got)  # refers to the CASE item
    second = order(
        customer={"phone": "+86 138-0013-8000", "name": "王小明（新）", "language": "en"},
        status="cancelled",
        shipping_fee="0",
        items=[{**GOOD["items"][0], "unit_price": "3799.00", "quantity": 2}],
    )
    report = await import_file(db, jsonl(tmp_path / "b.jsonl", second), NOW)
    assert (report.created, report.updated, report.bad) == (0, 1, 0)
    async with db.read() as s:
        got = await OrderRepo(s).by_no(GOOD["order_no"])
        assert got.status == "cancelled" and got.shipping_fee == Decimal("0.00")
        skus = {i.sku: (i.quantity, i.unit_price) for i in got.items}
        assert skus == {"PH-001": (2, Decimal("3799.00")), "CASE": (1, Decimal("9.00"))}
        customer = await CustomerRepo(s).get(got.customer_id)
        assert customer.name == "王小明（新）" and customer.language == "en"
    assert await count(db, Customer) == 1
    assert await count(db, OrderItem) == 2


@pytest.fixture
def cli_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.chdir(tmp_path)  # no developer .env
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def test_cli_import_exit_codes(
    cli_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    head = ScriptDirectory.from_config(migrate.alembic_config(cli_env)).get_current_head()
    assert f"database is at revision {head}" in capsys.readouterr().out
    good = jsonl(tmp_path / "good.jsonl", GOOD)
    assert main(["orders", "import", str(good)]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == "imported 1 orders (1 created, 0 updated), 0 bad records"
    assert out.err == ""
    mixed = jsonl(tmp_path / "mixed.jsonl", GOOD, order("DD2", status="?"))
    assert main(["orders", "import", str(mixed)]) == 1
    out = capsys.readouterr()
    assert out.out.strip() == "imported 1 orders (0 created, 1 updated), 1 bad records"
    assert out.err.startswith(f"{mixed}:2: status: must be one of")
    assert main(["orders", "import", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


async def test_database_error_rolls_back_only_that_record(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_upsert = OrderRepo.upsert

    async def flaky_upsert(self: OrderRepo, record: Any, customer_id: int, now: datetime) -> Any:
        result = await real_upsert(self, record, customer_id, now)
        if record.order_no == "DD2":
            raise IntegrityError("INSERT", {}, Exception("simulated"))
        return result

    monkeypatch.setattr(OrderRepo, "upsert", flaky_upsert)
    other = order("DD2", customer={"phone": "+8613912345678", "name": "李娜"})
    path = jsonl(tmp_path / "o.jsonl", GOOD, other, order("DD3"))
    report = await import_file(db, path, NOW)
    assert report.errors == [f"{path}:2: record: not stored: simulated"]
    assert (report.created, report.bad) == (2, 1)
    async with db.read() as s:
        assert set(await s.scalars(select(Order.order_no))) == {GOOD["order_no"], "DD3"}
        assert await CustomerRepo(s).by_phone("+8613912345678") is None


async def test_postgresql_planner_knows_the_imported_orders_at_once(
    db: Database, tmp_path: Path
) -> None:
    """Statements prepared right after an import are planned for the tables as they are, not
    as the empty tables autovacuum last saw."""
    if not db.is_postgresql:
        pytest.skip("PostgreSQL's planner statistics")
    records = []
    for n in range(40):
        record = copy.deepcopy(GOOD)
        record["order_no"] = f"DD20261120{n:05d}"
        record["customer"]["phone"] = f"+86138001{n:05d}"
        records.append(record)
    report = await import_file(db, jsonl(tmp_path / "o.jsonl", *records), NOW)
    assert report.created == 40
    async with db.read() as s:
        rows = await s.execute(
            text(
                "SELECT relname, reltuples FROM pg_class"
                " WHERE relname IN ('orders', 'order_items', 'customers')"
            )
        )
        known = dict(rows.all())
    assert known == {"orders": 40, "customers": 40, "order_items": 40 * len(GOOD["items"])}
