"""A small shop for conversation tests: two customers, orders for every kind of request."""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database
from tests.factories import make_customer, make_order

WANG_PHONE = "+8613800138000"
ALICE_PHONE = "+447700900123"


@dataclass
class Shop:
    wang_id: int
    alice_id: int
    orders: dict[str, str]  # label -> order number


async def build_shop(db: Database) -> Shop:
    async with db.transaction() as s:
        wang = await make_customer(s, phone=WANG_PHONE, name="王小明")
        alice = await make_customer(s, phone=ALICE_PHONE, name="Alice Johnson", language="en")
        specs = {
            "phone": (wang, 3, [{"name": "Phone X", "category": "electronics"}]),
            "shirts": (
                wang,
                3,
                [
                    {"name": "Linen shirt", "category": "apparel", "quantity": 3,
                     "unit_price": "199.00"},
                    {"name": "Wool socks", "category": "apparel", "unit_price": "39.00"},
                ],
            ),
            "portrait": (wang, 3, [{"name": "Custom portrait", "category": "custom_made",
                                    "unit_price": "599.00"}]),
            "old_phone": (wang, 20, [{"name": "Phone Mini", "category": "electronics",
                                      "unit_price": "2999.00"}]),
            "laptop": (wang, 2, [{"name": "Laptop Pro", "category": "electronics",
                                  "unit_price": "8999.00"}]),
            "kettle": (wang, 4, [{"name": "Kettle", "category": "appliances",
                                  "unit_price": "299.00"}]),
        }  # fmt: skip
        orders: dict[str, str] = {}
        for n, (label, (owner, days, items)) in enumerate(specs.items()):
            order = await make_order(
                s,
                owner,
                order_no=f"DD2026112{n:06d}",
                delivered_days_ago=days,
                items=items,
            )
            orders[label] = order.order_no
        in_transit = await make_order(
            s,
            wang,
            order_no="DD2026112500777",
            status="shipped",
            delivered_days_ago=None,
            items=[{"name": "Headphones", "category": "electronics", "unit_price": "499.00"}],
        )
        orders["in_transit"] = in_transit.order_no
        alices = await make_order(
            s, alice, order_no="DD2026112499999", items=[{"name": "Tablet", "unit_price": "2599"}]
        )
        orders["alice"] = alices.order_no
        return Shop(wang.id, alice.id, orders)
