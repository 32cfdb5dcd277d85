"""`StoragePort`: what the conversation sees of the shop, read ahead for a batch or not."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import event

from dialogs.shop import NewCase
from dialogs.store_port import StoragePort
from storage.db import Database
from tests.factories import NOW, make_case, make_customer, make_order

SINCE = NOW - timedelta(days=30)


async def test_orders_read_ahead_are_what_a_turn_would_read_itself(db: Database) -> None:
    async with db.transaction() as s:
        ann, bob = await make_customer(s), await make_customer(s)
        two_items = await make_order(s, ann, items=[{"sku": "A"}, {"sku": "B", "name": "Case"}])
        await make_case(s, two_items, created_at=NOW - timedelta(days=2))
        other = await make_order(s, bob)
    orders = (two_items, other)
    async with db.transaction() as s:
        fresh = [await StoragePort(s, "UTC").order_with_claims(o.id, SINCE) for o in orders]
        port = StoragePort(s, "UTC")
        with _statements(db) as run:
            await port.preload_orders({two_items.id, other.id, 999_999}, SINCE)
            ahead = [await port.order_with_claims(o.id, SINCE) for o in orders]
        assert len(run) == 1  # the answers come from the one read
        assert ahead == fresh
        assert [i.sku for i in ahead[0][0].items] == ["A", "B"] and ahead[0][1] == 1
        assert ahead[1][1] == 0
        assert await port.order_with_claims(999_999, SINCE) == (None, 0)


async def test_a_new_case_is_counted_by_the_next_turn_of_the_same_batch(db: Database) -> None:
    async with db.transaction() as s:
        ann = await make_customer(s)
        first, second = await make_order(s, ann), await make_order(s, ann)
    async with db.transaction() as s:
        port = StoragePort(s, "UTC")
        await port.preload_orders({first.id, second.id}, SINCE)
        order, claims = await port.order_with_claims(first.id, SINCE)
        assert order is not None and claims == 0
        item = order.items[0]
        await port.create_case(_new_case(order.id, item.id, ann.id), NOW)
        # The repeat-claims rule must see the case just opened, on either order.
        assert (await port.order_with_claims(second.id, SINCE))[1] == 1
        assert (await port.order_with_claims(first.id, SINCE))[1] == 1


@contextlib.contextmanager
def _statements(db: Database) -> Iterator[list[str]]:
    run: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        run.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield run
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)


def _new_case(order_id: int, item_id: int, customer_id: int) -> NewCase:
    blank = NewCase(
        order_id=0, item_id=0, order_no="DD1", item_name="Phone X", customer_id=0, quantity=1,
        service="return", reason="no_reason", description="", status="submitted",
        outcome="approve", rules=[], explanation_key="x", explanation_values={},
        alternatives=[], shipping_paid_by=None, return_address=None, deadline_at=None,
        needs_agent_reason=None, locale="en",
    )  # fmt: skip
    return replace(blank, order_id=order_id, item_id=item_id, customer_id=customer_id)
