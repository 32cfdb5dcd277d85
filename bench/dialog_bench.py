"""Conversation throughput: 200 concurrent customers each run a full return flow through the
conversation service on SQLite — one transaction per event, then with group commit (the
`Batcher` the bot's processor uses) —, the same flow through the conversation logic alone (no
database), and raw policy decisions per second.

    .venv/bin/python -m bench.dialog_bench [--customers 200] [--decisions 20000]

Every event is a real transaction (inbox, conversation, case, events, outbox) on a SQLite file.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from bench.machine import describe
from dialogs.clock import FrozenClock
from dialogs.customer import Conversations, ConversationState, ReturnAddress, ShopInfo
from dialogs.events import Event, MediaFile, Reply
from dialogs.policy import Claim, ItemFacts, load_policy
from dialogs.texts import Texts
from storage.db import Database
from storage.views import CaseView, CustomerView, FailureCounts, ItemView, NewCase, OrderView
from tests.dialogs.harness import Chat, make_service
from tests.factories import make_customer, make_order

NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)


async def seed(db: Database, customers: int) -> list[str]:
    phones = []
    async with db.transaction() as s:
        for n in range(customers):
            phone = f"+86137{n:08d}"
            c = await make_customer(s, phone=phone, name=f"客户{n}")
            await make_order(
                s,
                c,
                order_no=f"BN{n:010d}",
                delivered_days_ago=3,
                items=[{"name": "Phone X", "unit_price": "1999.00"}],
            )
            phones.append(phone)
    return phones


async def customer_flow(chat: Chat, phone: str, latencies: list[float]) -> None:
    steps = [
        lambda: chat.command("start"),
        lambda: chat.contact(phone),
        lambda: chat.press("New request"),
        lambda: chat.press("BN"),
        lambda: chat.press("Return and refund"),
        lambda: chat.press("Quality problem"),
        lambda: chat.text("The screen flickers after ten minutes"),
        lambda: chat.photos(2),
        lambda: chat.press("Done"),
        lambda: chat.press("Confirm"),
    ]
    for step in steps:
        started = time.perf_counter()
        await step()
        latencies.append(time.perf_counter() - started)
    assert "Approved" in chat.texts_since(chat.last_out), chat.last_text


async def conversations(customers: int, *, batched: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        await db.create_all()
        phones = await seed(db, customers)
        service = make_service(db, FrozenClock(NOW))
        service.batched = batched
        latencies: list[float] = []
        chats = [Chat(service, user_id=10_000 + n, language_code="en") for n in range(customers)]
        started = time.perf_counter()
        flows = (customer_flow(c, p, latencies) for c, p in zip(chats, phones, strict=True))
        await asyncio.gather(*flows)
        elapsed = time.perf_counter() - started
        await db.dispose()
    q = statistics.quantiles(latencies, n=100)
    return {
        "customers": customers,
        "events": len(latencies),
        "seconds": round(elapsed, 2),
        "events_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(q[49] * 1000, 2),
        "p99_ms": round(q[98] * 1000, 2),
    }


class MemoryShop:
    """A ShopPort over one customer and one order in memory: the turn's own cost, no database."""

    def __init__(self) -> None:
        delivered = NOW - timedelta(days=3)
        item = ItemView(1, 1, "PH-1", "Phone X", "electronics", 1, Decimal("1999.00"))
        self.customer_view = CustomerView(1, "+8613700000000", "客户", "zh")
        self.order_view = OrderView(1, "BN0000000001", 1, "delivered", delivered, delivered,
                                    delivered, delivered, "online", "CNY", (item,))  # fmt: skip
        self.created = 0
        self.views: dict[int, CaseView] = {}

    async def customer(self, customer_id: int) -> CustomerView:
        return self.customer_view

    async def customer_by_phone(self, phone: str) -> CustomerView:
        return self.customer_view

    async def customer_by_telegram_user(self, user_id: int) -> None:
        return None

    async def link_telegram(self, customer_id: int, user_id: int, *, take_over: bool) -> None:
        return None

    async def identification_failures(self, *args: object, **kwargs: object) -> FailureCounts:
        return FailureCounts(0, 0, 0)

    async def record_identification_failure(self, *args: object) -> None:
        return None

    async def order_by_no(self, order_no: str) -> OrderView:
        return self.order_view

    async def order(self, order_id: int) -> OrderView:
        return self.order_view

    async def orders_page(self, customer_id: int, offset: int, limit: int):
        return [self.order_view], 1

    async def cases(self, customer_id: int, limit: int) -> list[CaseView]:
        return []

    async def case(self, case_id: int) -> None:
        return None

    async def open_case_for_item(self, item_id: int) -> None:
        return None

    async def order_with_claims(self, order_id: int, since: datetime) -> tuple[OrderView, int]:
        return self.order_view, 0

    async def evidence_used_elsewhere(self, file_unique_ids: list[str]) -> set[str]:
        return set()

    async def create_case(self, case: NewCase, now: datetime) -> CaseView:
        self.created += 1
        view = CaseView(self.created, f"AS-{self.created}", "request", "BN0000000001",
                        "Phone X", case.service, case.reason, case.status, case.outcome,
                        now, chat_id=case.chat_id, details=dict(case.details))  # fmt: skip
        self.views[view.id] = view
        return view

    async def update_case(self, case_id: int, now: datetime, **values: object) -> CaseView:
        self.views[case_id] = replace(self.views[case_id], **values)  # type: ignore[arg-type]
        return self.views[case_id]

    async def cancel_timers(self, case_id: int, kinds: list[str], now: datetime) -> None:
        return None

    async def add_case_event(self, *args: object) -> None:
        return None

    async def start_timer(self, *args: object, **kwargs: object) -> None:
        return None

    async def running_clocks(self, case_id: int) -> dict[str, datetime]:
        return {}


async def turns_without_database(flows: int) -> dict[str, float]:
    """The same return flow through `Conversations.handle` alone (templates, policy, flow)."""
    conversations = Conversations(
        policy=load_policy("standard"),
        texts=Texts(),
        info=ShopInfo(ReturnAddress({"zh": "addr"}, {"zh": "售后部"}, "021")),
    )
    shop = MemoryShop()
    ids = itertools.count(1)
    events = 0
    started = time.perf_counter()
    for _ in range(flows):
        state = ConversationState(locale="en")
        steps: list[dict[str, object]] = [
            {"kind": "command", "command": "start"},
            {"kind": "contact", "contact_phone": "8613700000000", "contact_user_id": 1},
            {"press": "New request"}, {"press": "BN"}, {"press": "Return and refund"},
            {"press": "Quality"}, {"kind": "text", "text": "The screen flickers"},
            {"kind": "media", "media": (MediaFile("photo", "f1", "u1"),)},
            {"press": "Done"}, {"press": "Confirm"},
        ]  # fmt: skip
        last: list = []
        for step in steps:
            if "press" in step:
                label = str(step["press"])
                data = next(b.data for o in reversed(last) if isinstance(o, Reply)
                            for row in o.buttons for b in row if label in b.text)  # fmt: skip
                step = {"kind": "button", "data": data, "callback_id": "c", "message_id": 1}
            event = Event(next(ids), 1, 1, **step)  # type: ignore[arg-type]
            last = await conversations.handle(state, event, shop, NOW)  # type: ignore[arg-type]
            events += 1
    elapsed = time.perf_counter() - started
    return {"events": events, "microseconds_per_event": round(elapsed / events * 1e6)}


def decisions(count: int) -> dict[str, float]:
    policy = load_policy("standard")
    delivered = NOW - timedelta(days=3)
    facts = [
        ItemFacts(
            category=cat,
            purchased_at=delivered - timedelta(days=2),
            delivered_at=delivered,
            price=Decimal("399.00"),
            order_value=Decimal("399.00"),
        )
        for cat in ("electronics", "apparel", "custom_made", "fresh_food")
    ]
    claims = [
        Claim(
            item=f,
            service=s,
            reason=r,
            evidence_count=1,
            conditions=frozenset({"accessories_complete", "unused", "packaging_intact"}),
        )
        for f in facts
        for s, r in (
            ("return", "no_reason"),
            ("return", "quality"),
            ("exchange", "size_colour"),
            ("repair", "quality"),
        )
    ]
    started = time.perf_counter()
    for n in range(count):
        policy.decide(claims[n % len(claims)], NOW)
    elapsed = time.perf_counter() - started
    return {"decisions": count, "decisions_per_second": round(count / elapsed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--decisions", type=int, default=20_000)
    args = parser.parse_args()
    result = {
        "machine": describe(),
        "conversation": asyncio.run(conversations(args.customers)),
        "conversation_group_commit": asyncio.run(conversations(args.customers, batched=True)),
        "turn_without_database": asyncio.run(turns_without_database(args.customers)),
        "policy": decisions(args.decisions),
    }
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
