"""A small hand-made history where every figure of the report is known (tests/storage/
test_reports.py spells each one out). The period is Monday 2 to Sunday 8 November 2026 in
Shanghai; the one before it is 26 October to 1 November. Working hours are 9:00-18:00."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from storage.db import Database
from storage.models import Agent, Case, Customer, Evidence, Order, OrderItem, Survey, Timer

SH = ZoneInfo("Asia/Shanghai")
PHONES = ("+8613800138000", "+8613912345678", "+8618612345678")
NAMES = ("王小明", "李娜", "David Chen")


def at(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=SH)


async def load_history(db: Database) -> None:
    async with db.transaction() as s:
        people = [Customer(phone=p, name=n) for p, n in zip(PHONES, NAMES, strict=True)]
        agent = Agent(telegram_user_id=501, name="Agent Li", role="agent")
        s.add_all([*people, agent])
        await s.flush()
        c1, c2, c3 = (p.id for p in people)

        def order(
            no: str,
            who: int,
            placed: datetime,
            sku: str,
            name: str,
            category: str,
            quantity: int,
            payment: str = "online",
        ) -> tuple[Order, OrderItem]:
            item = OrderItem(
                sku=sku,
                name=name,
                category=category,
                quantity=quantity,
                unit_price=Decimal("10.00"),
            )
            found = Order(
                order_no=no,
                customer_id=who,
                status="delivered",
                placed_at=placed,
                payment_method=payment,
                currency="CNY",
                items=[item],
            )
            s.add(found)
            return found, item

        o1 = order("O1", c1, at(11, 2, 8), "PH-1", "Phone X | 5G", "electronics", 1)
        o2 = order("O2", c2, at(11, 2, 9), "PH-1", "Phone X | 5G", "electronics", 1)
        o3 = order("O3", c3, at(11, 3, 9), "TS-1", "T-shirt", "apparel", 4)
        o4 = order("O4", c1, at(11, 4, 9), "RC-1", "电饭煲", "appliances", 2)
        o5 = order("O5", c2, at(10, 27, 9), "TS-1", "T-shirt", "apparel", 10, payment="cod")
        await s.flush()

        number = iter(range(1, 100))

        def case(
            who: int, bought: tuple[Order, OrderItem] | None, created: datetime, **values: Any
        ) -> Case:
            made = Case(
                case_no=f"AS-{next(number):04d}",
                customer_id=who,
                created_at=created,
                status=values.pop("status", "submitted"),
                version=1,
                **values,
            )
            if bought is not None:
                made.order_id, made.item_id = bought[0].id, bought[1].id
            s.add(made)
            return made

        request = {"kind": "request"}
        k1 = case(
            c1,
            o1,
            at(11, 2, 10),
            **request,
            service="return",
            reason="quality",
            outcome="approve",
            rules=["quality_return"],
            closed_at=at(11, 2, 15),
            refunded_at=at(11, 4, 12),
            refund_amount=Decimal("1599.00"),
        )
        k2 = case(
            c2,
            o2,
            at(11, 3, 17),
            **request,
            service="exchange",
            reason="quality",
            outcome="needs_agent",
            rules=["order_value"],
            handed_over_at=at(11, 3, 17),
            first_response_at=at(11, 4, 10),
        )
        k3 = case(
            c1,
            o4,
            at(11, 6, 17, 30),
            **request,
            service="repair",
            reason="quality",
            outcome="reject",
            rules=["repair_window", "quality_return"],
            handed_over_at=at(11, 6, 17, 30),
            first_response_at=at(11, 9, 9, 30),
            closed_at=at(11, 9, 12),
        )
        k4 = case(
            c3,
            o3,
            at(11, 7, 11),
            **request,
            service="return",
            reason="size_colour",
            outcome="approve",
            rules=["no_reason_7d"],
            handed_over_at=at(11, 7, 11),
        )
        case(
            c2,
            None,
            at(11, 5, 9),
            kind="question",
            outcome="needs_agent",
            handed_over_at=at(11, 5, 9),
            first_response_at=at(11, 5, 13),
        )
        p1 = case(
            c2,
            o5,
            at(10, 28, 10),
            **request,
            service="return",
            reason="no_reason",
            outcome="approve",
            refunded_at=at(11, 3, 10),
            refund_amount=Decimal("99.00"),
        )
        p2 = case(
            c2,
            o5,
            at(10, 29, 10),
            **request,
            service="exchange",
            reason="size_colour",
            outcome="reject",
        )
        p3 = case(
            c3, o5, at(10, 26, 10), **request, service="return", reason="quality", outcome="approve"
        )
        case(
            c3, o3, at(11, 9, 10), **request, service="return", reason="quality", outcome="approve"
        )  # the day after the period: counted nowhere
        await s.flush()

        s.add_all(
            [
                Evidence(case_id=k2.id, kind="photo", file_id="f1", file_unique_id="F1"),
                Evidence(case_id=p1.id, kind="photo", file_id="f1", file_unique_id="F1"),
                Evidence(case_id=k1.id, kind="photo", file_id="f2", file_unique_id="F2"),
            ]
        )

        def timer(kind: str, who: Case, due: datetime, **values: Any) -> None:
            s.add(Timer(kind=kind, case_id=who.id, due_at=due, **values))

        timer("first_response", k2, at(11, 4, 11), cancelled_at=at(11, 4, 10))
        timer("review", k3, at(11, 6, 18), fired_at=at(11, 6, 18))
        timer("refund_after_receipt", k1, at(11, 5, 18), cancelled_at=at(11, 4, 12))
        timer("repair_after_receipt", k3, at(11, 8, 12))  # still running
        timer("ship_back", k4, at(11, 7, 23), fired_at=at(11, 7, 23))  # the customer's clock
        timer("first_response_half", k2, at(11, 3, 17, 30), fired_at=at(11, 3, 17, 30))
        timer("review", p1, at(10, 29, 18), cancelled_at=at(10, 28, 12))

        def survey(
            who: Case,
            answered: datetime | None,
            rating: int | None,
            attitude: int | None,
            speed: int | None,
            result: int | None,
            agent_id: int | None,
        ) -> None:
            s.add(
                Survey(
                    case_id=who.id,
                    asked_at=at(10, 26, 9),
                    answered_at=answered,
                    rating=rating,
                    attitude=attitude,
                    speed=speed,
                    result=result,
                    agent_id=agent_id,
                )
            )

        survey(k1, at(11, 5, 9), 5, 5, 4, 5, agent.id)
        survey(p1, at(11, 6, 9), 3, 3, None, 2, None)
        survey(p2, at(11, 7, 9), 4, 4, 4, 4, agent.id)
        survey(k2, None, None, None, None, None, agent.id)  # asked, not answered
        survey(p3, at(10, 30, 9), 2, 2, 2, 2, None)  # answered in the period before
