"""A realistic after-sales history of N cases, for trying reports and measuring them at scale
(`aftersales demo-data --cases N`, bench/report_bench.py).

Two years up to `now`, busier on weekdays and towards the present: customers, two orders per
case (one of them claimed), the cases with the bot's decisions and rules, hand-overs and first
answers, closings and refunds, evidence (a few photos reused from another case), the service
clocks met or run out, and satisfaction surveys with T9's three dimensions. The same `seed`
gives the same history. Rows go in by bulk insert, a chunk of cases at a time, with ids chosen
here, so a million cases take minutes, not hours.

Generated customers are recognisable: phones +8617000000000 upwards, names 示例客户N.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from storage.bulk import analyze, insert_rows
from storage.db import Database
from storage.domain import Category
from storage.models import Agent, Case, Customer, Evidence, Order, OrderItem, Survey, Timer

SPAN = timedelta(days=730)
CHUNK = 20_000
PHONE_BASE = 8617000000000
PRODUCTS = 400
AGENTS = 8
H = timedelta(hours=1)

SERVICES = (("return", 45), ("exchange", 20), ("repair", 15), ("refund", 12), ("missing_parts", 8))
REASONS = {
    "return": (("no_reason", 40), ("quality", 30), ("not_as_described", 15), ("wrong_item", 10),
               ("transit_damage", 5)),
    "exchange": (("size_colour", 60), ("quality", 30), ("wrong_item", 10)),
    "repair": (("quality", 100),),
    "refund": (("not_received", 50), ("transit_damage", 30), ("quality", 20)),
    "missing_parts": (("missing_parts", 100),),
}  # fmt: skip
OUTCOMES = (("approve", 62), ("reject", 13), ("needs_agent", 25))
RULES = {
    "approve": ("no_reason_7d", "quality_return", "exchange_window", "repair_warranty"),
    "reject": ("window_passed", "category_excluded", "missing_conditions"),
    "needs_agent": ("order_value", "repeat_claims", "evidence_reused", "grace_tier"),
}
RATINGS = (1, 2, 3, 4, 5)
RATING_WEIGHTS = (4, 5, 12, 34, 45)


@dataclass(frozen=True, slots=True)
class HistoryReport:
    cases: int
    orders: int
    customers: int

    def summary(self) -> str:
        return f"{self.cases} cases, {self.orders} orders, {self.customers} customers"


def _pick(rng: random.Random, table: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([k for k, _ in table], [w for _, w in table])[0]


class _Ids:
    """The next free id of each table, read once: rows are inserted with their ids."""

    def __init__(self, start: dict[str, int]) -> None:
        self.next = dict(start)

    def take(self, table: str, count: int = 1) -> int:
        first = self.next[table]
        self.next[table] += count
        return first


async def _start_ids(db: Database) -> _Ids:
    models = (Customer, Order, OrderItem, Case, Evidence, Timer, Survey, Agent)
    start = {}
    async with db.read() as session:
        for model in models:
            start[model.__tablename__] = (
                int(await session.scalar(select(func.max(model.id))) or 0) + 1
            )
    return _Ids(start)


async def load_history(db: Database, cases: int, now: datetime, *, seed: int = 1
                       ) -> HistoryReport:  # fmt: skip
    rng = random.Random(seed)
    ids = await _start_ids(db)
    people = max(cases // 3, 10)
    first_customer = ids.take("customers", people)
    first_agent = ids.take("agents", AGENTS)
    customers = [
        {"id": first_customer + i, "phone": f"+{PHONE_BASE + first_customer + i}",
         "name": f"示例客户{first_customer + i}", "language": "zh" if i % 5 else "en",
         "created_at": now - SPAN}
        for i in range(people)
    ]  # fmt: skip
    agents = [
        {"id": first_agent + i, "telegram_user_id": 9_000_000_000 + first_agent + i,
         "name": f"客服{i + 1:02d}", "role": "supervisor" if i == 0 else "agent", "active": True}
        for i in range(AGENTS)
    ]  # fmt: skip
    await insert_rows(db, Customer.__table__, customers)
    await insert_rows(db, Agent.__table__, agents)
    maker = _Maker(rng, ids, now, first_customer, people, first_agent)
    # In time order, as a shop's cases are written: a month's rows lie together on disk, and
    # the report's range scans read what a real shop's would.
    maker.moments = sorted(maker.moment() for _ in range(cases))
    done = 0
    while done < cases:
        size = min(CHUNK, cases - done)
        for model, batch in maker.chunk(done, size):
            await insert_rows(db, model.__table__, batch)
        done += size
    await analyze(db)
    return HistoryReport(cases, 2 * cases, people)


class _Maker:
    def __init__(self, rng: random.Random, ids: _Ids, now: datetime, first_customer: int,
                 people: int, first_agent: int) -> None:  # fmt: skip
        self.rng, self.ids, self.now = rng, ids, now
        self.first_customer, self.people, self.first_agent = first_customer, people, first_agent
        self.products = [self._product(i) for i in range(PRODUCTS)]
        self.files: list[str] = []  # evidence seen so far, some of it sent again
        self.moments: list[datetime] = []  # when each case is created, oldest first

    def _product(self, i: int) -> tuple[str, str, str, Decimal]:
        categories = [c.value for c in Category]
        category = categories[i % len(categories)]
        price = Decimal(self.rng.choice((39, 89, 129, 199, 299, 599, 1299, 3999))).quantize(
            Decimal("0.01"))  # fmt: skip
        # The category is a column of its own (the reports name it in their language).
        return f"SKU-{i:04d}", f"示例商品 {i:04d}", category, price

    def moment(self) -> datetime:
        """Somewhere in the two years, more often lately and on weekdays."""
        while True:
            ago = SPAN * (1 - self.rng.random() ** 0.8)
            moment = self.now - ago
            if moment.weekday() < 5 or self.rng.random() < 0.6:
                return moment

    def chunk(self, offset: int, size: int) -> Iterator[tuple[Any, list[dict[str, Any]]]]:
        rng = self.rng
        orders: list[dict[str, Any]] = []
        items: list[dict[str, Any]] = []
        cases: list[dict[str, Any]] = []
        evidence: list[dict[str, Any]] = []
        timers: list[dict[str, Any]] = []
        surveys: list[dict[str, Any]] = []
        for n in range(offset, offset + size):
            created = self.moments[n] if self.moments else self.moment()
            # A few customers claim again and again (the report's repeat claimers).
            regulars = max(self.people // 50, 1)
            pick = rng.randrange(regulars) if rng.random() < 0.15 else rng.randrange(self.people)
            customer = self.first_customer + pick
            claimed = None
            for extra in (False, True):  # the claimed order, and one nobody claims
                before = rng.uniform(0, 20) if extra else rng.uniform(1, 12)
                placed = created - timedelta(days=before)
                order_id, item_id = self.ids.take("orders"), self.ids.take("order_items")
                sku, name, category, price = rng.choice(self.products)
                payment = "cod" if rng.random() < 0.12 else "online"
                quantity = rng.choice((1, 1, 1, 2, 3))
                orders.append({"id": order_id, "order_no": f"DH{order_id:012d}",
                               "customer_id": customer, "status": "delivered",
                               "placed_at": placed, "paid_at": placed,
                               "shipped_at": placed + timedelta(hours=20),
                               "delivered_at": placed + timedelta(days=2),
                               "payment_method": payment, "currency": "CNY",
                               "shipping_fee": Decimal("0.00"), "created_at": placed,
                               "updated_at": placed})  # fmt: skip
                items.append(
                    {
                        "id": item_id,
                        "order_id": order_id,
                        "sku": sku,
                        "name": name,
                        "category": category,
                        "quantity": quantity,
                        "unit_price": price,
                    }
                )
                if not extra:
                    claimed = (order_id, item_id, price * quantity)
            assert claimed is not None
            case_id = self.ids.take("cases")
            case = self._case(n, case_id, customer, created, claimed)
            cases.append(case)
            timers.extend(self._timers(case))
            evidence.extend(self._evidence(case_id))
            if case["closed_at"] is not None and rng.random() < 0.4:
                surveys.append(self._survey(case))
        return iter([(Order, orders), (OrderItem, items), (Case, cases), (Evidence, evidence),
                     (Timer, timers), (Survey, surveys)])  # fmt: skip

    def _case(self, n: int, case_id: int, customer: int, created: datetime,
              claimed: tuple[int, int, Decimal]) -> dict[str, Any]:  # fmt: skip
        rng = self.rng
        question = rng.random() < 0.05
        service = _pick(rng, SERVICES)
        outcome = "needs_agent" if question else _pick(rng, OUTCOMES)
        handed = created if outcome == "needs_agent" else None
        answered = handed + H * rng.lognormvariate(1.0, 1.0) if handed else None
        closed = created + H * rng.uniform(1, 300) if rng.random() < 0.9 else None
        if closed is not None and closed > self.now:
            closed = None
        refunded = None
        if not question and service in ("return", "refund") and outcome != "reject" and closed:
            refunded = min(closed, created + timedelta(days=rng.uniform(1, 8)))
        return {
            "id": case_id, "case_no": f"AS-{created:%Y%m%d}-9{case_id:08d}",
            "kind": "question" if question else "request",
            "order_id": None if question else claimed[0],
            "item_id": None if question else claimed[1],
            "customer_id": customer, "quantity": 1,
            "service": None if question else service,
            "reason": None if question else _pick(rng, REASONS[service]),
            "description": "", "status": "closed" if closed else "pending_review",
            "outcome": outcome,
            "rules": [] if question else rng.sample(RULES[outcome], rng.choice((1, 1, 2))),
            "handed_over_at": handed, "first_response_at": answered,
            "closed_at": closed, "refunded_at": refunded,
            "refund_amount": claimed[2] if refunded else None,
            "assigned_agent_id": self.first_agent + rng.randrange(AGENTS) if handed else None,
            "locale": "zh", "created_at": created, "updated_at": closed or created, "version": 1,
        }  # fmt: skip

    def _timers(self, case: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The shop's clocks of the case: stopped in time, or run out (about one in eight)."""
        rng = self.rng
        clocks = []
        if case["handed_over_at"] is not None:
            clocks.append(("first_response", case["handed_over_at"], timedelta(hours=4)))
            clocks.append(("review", case["handed_over_at"], timedelta(hours=24)))
        if case["refunded_at"] is not None:
            clocks.append(("refund_after_receipt", case["created_at"], timedelta(days=5)))
        for kind, start, length in clocks:
            due = start + length
            late = rng.random() < 0.12
            stopped = due + H if late else start + length * rng.random()
            timer = {"id": self.ids.take("timers"), "case_id": case["id"], "kind": kind,
                     "due_at": due, "payload": {}, "created_at": start,
                     "fired_at": due if late and due <= self.now else None,
                     "cancelled_at": None if late or stopped > self.now else stopped}  # fmt: skip
            yield timer

    def _evidence(self, case_id: int) -> Iterator[dict[str, Any]]:
        rng = self.rng
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            reused = self.files and rng.random() < 0.01
            unique = rng.choice(self.files) if reused else f"E{case_id}-{rng.randrange(10**9)}"
            if not reused and len(self.files) < 10_000:
                self.files.append(unique)
            yield {"id": self.ids.take("evidence"), "case_id": case_id, "kind": "photo",
                   "file_id": f"f-{unique}", "file_unique_id": unique}  # fmt: skip

    def _survey(self, case: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        rating = rng.choices(RATINGS, RATING_WEIGHTS)[0]

        def near() -> int:
            return max(1, min(5, rating + rng.choice((-1, 0, 0, 1))))

        answered = case["closed_at"] + H * rng.uniform(0.1, 20)
        return {"id": self.ids.take("surveys"), "case_id": case["id"],
                "asked_at": case["closed_at"], "rating": rating, "attitude": near(),
                "speed": near(), "result": near(),
                "agent_id": case["assigned_agent_id"],
                "answered_at": answered if answered <= self.now else None}  # fmt: skip
