"""A demo shop generated relative to `now`, loaded through the importer's own path.

The first customer (王小明) is the sandbox user. Order numbers are `DD` + the local date the
order was placed + a 5-digit number starting with 9, so demo orders are recognisable.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, select

from storage.db import Database
from storage.import_format import RawRecord
from storage.importer import ImportReport, import_records
from storage.models import Case, Customer, Order

SHOP_TZ = ZoneInfo("Asia/Shanghai")

CUSTOMERS: tuple[dict[str, str], ...] = (
    {"phone": "+8613800138000", "name": "王小明", "language": "zh"},
    {"phone": "+8613912345678", "name": "李娜", "language": "zh"},
    {"phone": "+447700900123", "name": "Alice Johnson", "language": "en"},
    {"phone": "+8618612345678", "name": "David Chen", "language": "en"},
)
DEMO_ORDER_RE = re.compile(r"^DD\d{8}9\d{4}$")

# (customer index, story, payment, fee, items); story is ("delivered", days ago),
# ("shipped", days since shipping) or ("paid", hours since paying).
_Item = tuple[str, str, str, int, str]
_ORDERS: tuple[tuple[int, tuple[str, float], str, str, tuple[_Item, ...]], ...] = (
    (0, ("delivered", 1), "online", "0.00", (
        ("RN14P-8-256-BLK", "Redmi Note 14 Pro 5G 手机 8+256GB 黑", "electronics", 1, "1599.00"),
    )),
    (0, ("delivered", 5), "online", "0.00", (
        ("UQ-FLEECE-NVY-L", "优衣库 男装 摇粒绒拉链外套 藏青色 L", "apparel", 1, "199.00"),
        ("UQ-TEE3-WHT-L", "纯棉圆领T恤 3件装 白色 L", "apparel", 1, "99.00"),
        ("SOCK-SPORT-5P", "运动中筒袜 5双装", "apparel", 2, "39.90"),
    )),
    (0, ("delivered", 10), "online", "0.00", (
        ("MIDEA-FB40", "美的 智能电饭煲 4L MB-FB40S701", "appliances", 1, "299.00"),
    )),
    (0, ("delivered", 20), "online", "12.00", (
        ("CRAB-YCH-8", "阳澄湖大闸蟹 礼盒 公4.0两 母3.0两 8只装", "fresh_food", 1, "458.00"),
    )),
    (0, ("delivered", 200), "online", "0.00", (
        ("CUP-ENGRAVE-500", "定制刻字 316不锈钢保温杯 500ml", "custom_made", 1, "89.00"),
    )),
    (0, ("delivered", 2), "online", "0.00", (
        ("QQMUSIC-GREEN-12M", "QQ音乐 豪华绿钻会员 12个月 兑换码", "digital", 1, "158.00"),
    )),
    (0, ("delivered", 3), "cod", "10.00", (
        ("JOYOUNG-DJ13B", "九阳 破壁免滤豆浆机 1.3L DJ13B-D08D", "appliances", 1, "259.00"),
    )),
    (0, ("shipped", 1), "online", "0.00", (
        ("LOGI-MX3S-GRY", "罗技 MX Master 3S 无线鼠标 石墨灰", "electronics", 1, "699.00"),
    )),
    (0, ("paid", 6), "online", "0.00", (
        ("BOOK-SANTI-SET", "《三体》全集 典藏版（全三册）", "periodicals", 1, "168.00"),
        ("MAG-DUZHE-2027", "《读者》2027年全年订阅 24期", "periodicals", 1, "216.00"),
    )),
    (1, ("delivered", 400), "online", "0.00", (
        ("KINDLE-PW-16G", "Kindle Paperwhite 电子书阅读器 16GB", "electronics", 1, "1068.00"),
    )),
    (1, ("delivered", 10), "online", "0.00", (
        ("PHILIPS-HX6730", "飞利浦 声波电动牙刷 HX6730", "hygiene", 1, "329.00"),
    )),
    (1, ("delivered", 1), "online", "5.00", (
        ("MAG-RMWX-2611", "《人民文学》2026年第11期", "periodicals", 2, "15.00"),
    )),
    (2, ("delivered", 5), "online", "0.00", (
        ("ANKER-737-24K", "Anker 737 Power Bank (PowerCore 24K), 140W", "electronics", 1, "899.00"),
        ("SCARF-MERINO-GRY", "Merino wool scarf, charcoal grey", "apparel", 1, "249.00"),
    )),
    (2, ("delivered", 20), "online", "0.00", (
        ("WALLET-ENGR-BRN", "Engraved leather wallet, brown", "custom_made", 1, "259.00"),
    )),
    (2, ("shipped", 2), "online", "15.00", (
        ("LYCHEE-GD-2500", "Fresh Guangdong lychees, 2.5 kg", "fresh_food", 1, "128.00"),
    )),
    (2, ("delivered", 1), "online", "0.00", (
        ("DUO-SUPER-12M", "Duolingo Super, 12-month code", "digital", 1, "588.00"),
    )),
    (3, ("delivered", 1), "online", "0.00", (
        ("DYSON-V12-DS", "Dyson V12 Detect Slim cordless vacuum", "appliances", 1, "4490.00"),
    )),
    (3, ("paid", 30), "online", "0.00", (
        ("NIKE-PEG41-42", "Nike Air Zoom Pegasus 41 running shoes, EU 42", "apparel", 1, "899.00"),
    )),
    # Above the standard profile's escalation.order_value_over (5000 CNY): every claim goes to a
    # person. Placed between orders 90007 and 90002 (and 90016 and 90013), so the first page of
    # each list (5 per page, newest first) stays as it was.
    (0, ("delivered", 4), "online", "0.00", (
        ("HUAWEI-MBXP-32-1T", "华为 MateBook X Pro 笔记本电脑 32GB+1TB 墨蓝", "electronics", 1,
         "8999.00"),
    )),
    (2, ("delivered", 3), "online", "0.00", (
        ("MBA13-M4-16-512", "MacBook Air 13-inch (M4), 16 GB, 512 GB, midnight", "electronics", 1,
         "9499.00"),
    )),
)  # fmt: skip


# Orders bought with freight insurance (运费险): return postage covered up to the amount.
_INSURED = {2: "12.00", 13: "15.00"}  # by position in _ORDERS, from 1


def demo_orders(now: datetime) -> list[dict[str, Any]]:
    """The demo shop in the import format, with times relative to `now` (aware)."""
    local_now = now.astimezone(SHOP_TZ).replace(microsecond=0)
    orders = []
    for index, (who, (stage, amount), payment, fee, items) in enumerate(_ORDERS, start=1):
        times = _times(local_now, stage, amount, payment)
        order: dict[str, Any] = {
            "order_no": f"DD{times['placed_at']:%Y%m%d}{90000 + index:05d}",
            "customer": dict(CUSTOMERS[who]),
            "status": stage,
            "payment_method": payment,
            "currency": "CNY",
            "shipping_fee": fee,
            **{key: value.isoformat() for key, value in times.items()},
            "items": [
                {"sku": s, "name": n, "category": c, "quantity": q, "unit_price": p}
                for s, n, c, q, p in items
            ],
        }
        if index in _INSURED:
            order["freight_insurance"] = _INSURED[index]
        orders.append(order)
    return orders


def _times(now: datetime, stage: str, amount: float, payment: str) -> dict[str, datetime]:
    if stage == "delivered":
        delivered = now - timedelta(days=amount)
        shipped = delivered - timedelta(days=1, hours=6)
        placed = shipped - timedelta(hours=20)
        paid = delivered if payment == "cod" else placed + timedelta(minutes=2)
        return {
            "placed_at": placed,
            "paid_at": paid,
            "shipped_at": shipped,
            "delivered_at": delivered,
        }
    if stage == "shipped":
        shipped = now - timedelta(days=amount)
        placed = shipped - timedelta(hours=18)
        times = {"placed_at": placed, "shipped_at": shipped}
        if payment == "online":
            times["paid_at"] = placed + timedelta(minutes=2)
        return times
    paid = now - timedelta(hours=amount)
    return {"placed_at": paid - timedelta(minutes=3), "paid_at": paid}


async def load_demo(db: Database, now: datetime) -> ImportReport:
    """Create or refresh the demo shop. Demo orders left over from an earlier day are removed
    unless a case refers to them."""
    orders = demo_orders(now)
    records = [RawRecord(line, value) for line, value in enumerate(orders, start=1)]
    report = await import_records(db, records, source="demo", now=now)
    await _prune(db, {order["order_no"] for order in orders})
    return report


async def _prune(db: Database, keep: set[str]) -> None:
    phones = [c["phone"] for c in CUSTOMERS]
    async with db.transaction() as session:
        rows = await session.execute(
            select(Order.id, Order.order_no)
            .join(Customer, Customer.id == Order.customer_id)
            .where(Customer.phone.in_(phones), ~exists().where(Case.order_id == Order.id))
        )
        stale = [
            order_id
            for order_id, order_no in rows
            if DEMO_ORDER_RE.match(order_no) and order_no not in keep
        ]
        if stale:
            await session.execute(delete(Order).where(Order.id.in_(stale)))
