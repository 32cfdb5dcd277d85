"""The shop's clocks after the decision, with the clock jumped ahead: what the profile's
`on_expiry` does when each runs out (remind, close, escalate, approve), on the working-day
calendar with its holidays, and nothing for a case that has moved on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dialogs.clock import FrozenClock
from dialogs.events import Resume, TopicPost
from dialogs.lifecycle.steps import Step
from dialogs.work import CaseStepInput, Job
from storage.db import Database
from storage.models import Conversation, Timer
from storage.repos.timers import TimerRepo
from tests.dialogs.clock_helpers import (
    GROUP,
    SUPERVISOR,
    auto_approve_profile,
    clock_events,
    event_kinds,
    fire_due,
    make_service,
    pending,
    replies,
    the_case,
    topic_texts,
)
from tests.dialogs.harness import Chat, Service
from tests.dialogs.shop_data import WANG_PHONE, Shop, build_shop
from tests.factories import make_case, make_customer, make_order

SHANGHAI = ZoneInfo("Asia/Shanghai")
MENTION = f"tg://user?id={SUPERVISOR}"


@pytest.fixture
async def shop(db: Database) -> Shop:
    return await build_shop(db)


@pytest.fixture
def service(db: Database, clock: FrozenClock) -> Service:
    return make_service(db, clock)


async def identified(service: Service, user_id: int = 501) -> Chat:
    chat = Chat(service, user_id=user_id, language_code="en")
    await chat.command("start")
    await chat.contact(WANG_PHONE)
    return chat


async def approved_return(chat: Chat, order_no: str) -> None:
    await chat.press("New request")
    await chat.text(order_no)
    await chat.press("Return and refund")
    await chat.press("Quality problem")
    await chat.text("Dead pixels in the middle of the screen")
    await chat.photos(1)
    await chat.press("Done")
    await chat.press("Confirm")


async def jump_to(clock: FrozenClock, instant: datetime, after: timedelta = timedelta(0)) -> None:
    clock.set(instant + after)


async def test_a_customer_who_never_ships_is_reminded_then_the_case_closes(service, shop, db,
                                                                          clock):  # fmt: skip
    chat = await identified(service)
    await approved_return(chat, shop.orders["phone"])
    case = await the_case(db)
    assert case.status == "awaiting_return"
    timers = await pending(db)
    assert {"ship_back", "ship_back_reminder"} <= set(timers)
    due = timers["ship_back"].due_at
    assert timers["ship_back_reminder"].due_at == due - timedelta(days=1)

    assert await fire_due(service, chat) == []  # nothing is due yet
    await jump_to(clock, timers["ship_back_reminder"].due_at, timedelta(minutes=1))
    out = await fire_due(service, chat)
    text = replies(out, chat.chat_id)
    assert "A reminder: please send the item" in text and case.case_no in text
    assert "Dec 3, 2026" in text  # the deadline the customer was given (7 days, standard)
    assert chat.has_button("Enter the waybill number")
    assert any(b.data == f"lc:waybill:{case.id}" for row in chat.last.buttons for b in row)
    assert await fire_due(service, chat) == []  # once

    await jump_to(clock, due, timedelta(minutes=1))
    out = await fire_due(service, chat)
    text = replies(out, chat.chat_id)
    assert "not sent back by the deadline" in text
    assert "How would you rate" in text  # closed: the survey follows
    case = await the_case(db, case.id)
    assert (case.status, case.closed_at is not None) == ("closed", True)
    assert [e["action"] for e in await clock_events(db, case.id)] == ["remind", "auto_close"]
    assert "expire" in await event_kinds(db, case.id)
    assert set(await pending(db)) == {"survey_reminder"}


async def test_a_shop_that_never_reviews_is_escalated_with_the_standard_profile(
    service, shop, db, clock
):
    chat = await identified(service)
    await approved_return(chat, shop.orders["laptop"])  # above the value threshold
    case = await the_case(db)
    assert case.status == "pending_review"
    review = (await pending(db))["review"]
    # Two working days from Thursday 26 November: Friday, then Monday 30 November.
    assert review.due_at.astimezone(SHANGHAI).date().isoformat() == "2026-11-30"
    await jump_to(clock, review.due_at, timedelta(minutes=1))
    out = await fire_due(service, chat)
    assert "taking longer than we promised" in replies(out, chat.chat_id)
    topic = topic_texts(out)
    assert "Not decided within the review time" in topic and MENTION in topic
    assert all(o.agent_chat_id == GROUP for o in out if isinstance(o, TopicPost))
    case = await the_case(db, case.id)
    assert case.status == "pending_review"  # a person still decides
    assert [e["action"] for e in await clock_events(db, case.id)] == ["escalate"]


async def test_a_shop_that_never_reviews_approves_automatically_where_the_profile_says_so(
    db, clock, shop, tmp_path
):
    service = make_service(db, clock, auto_approve_profile(tmp_path))
    chat = await identified(service)
    await approved_return(chat, shop.orders["laptop"])
    case = await the_case(db)
    assert (case.status, case.desk) == ("pending_review", "queued")
    review = (await pending(db))["review"]
    await jump_to(clock, review.due_at, timedelta(minutes=1))
    out = await fire_due(service, chat)
    text = replies(out, chat.chat_id)
    assert "approved" in text and "approved automatically" in text
    assert chat.has_button("Enter the waybill number")
    assert any(isinstance(o, Resume) for o in out)  # the bot has the chat again
    case = await the_case(db, case.id)
    assert (case.status, case.desk, case.outcome) == ("awaiting_return", "decided", "approve")
    left = await pending(db)
    assert {"ship_back", "ship_back_reminder"} <= set(left)
    assert not {"review", "first_response", "first_response_half"} & set(left)
    assert [e["action"] for e in await clock_events(db, case.id)] == ["auto_approve"]
    async with db.read() as s:
        state = await s.scalar(select(Conversation.state).where(Conversation.chat_id == 501))
        assert state is not None and state != "with_agent"
    await chat.press("Main menu")  # and it answers
    assert chat.has_button("New request")


async def a_case(db: Database, service: str, status: str, *, payment: str = "online",
                 chat_id: int = 4242, **fields: object) -> tuple[int, str]:  # fmt: skip
    async with db.transaction() as s:
        customer = await make_customer(s, language="en")
        order = await make_order(s, customer, payment_method=payment,
                                 items=[{"unit_price": "199.00"}])  # fmt: skip
        case = await make_case(s, order, service=service, status=status, chat_id=chat_id,
                               locale="en", shipping_paid_by="merchant", **fields)  # fmt: skip
        return case.id, case.case_no


async def step(service: Service, case_id: int, trigger: str, lane: int = 4242) -> list:
    return await service.work.run(Job(lane, CaseStepInput(case_id, Step(trigger))))


async def test_a_late_refund_goes_to_the_agents_group_with_the_supervisors(service, db, clock):
    case_id, _ = await a_case(db, "return", "in_transit")
    await step(service, case_id, "received")
    refund = (await pending(db))["refund_after_receipt"]
    assert refund.due_at.astimezone(SHANGHAI).date().isoformat() == "2026-12-03"  # 7 days
    await jump_to(clock, refund.due_at, timedelta(minutes=1))
    out = await fire_due(service)
    # The case had no topic: it is queued for a person, with its card, and the supervisors named.
    case = await the_case(db, case_id)
    assert (case.desk, case.agent_chat_id) == ("queued", GROUP)
    posts = [o for o in out if isinstance(o, TopicPost)]
    assert posts[0].payload.get("card") and "Not refunded within the promised time" in (
        topic_texts(out)) and MENTION in topic_texts(out)  # fmt: skip
    assert "your refund" in replies(out, 4242) and "taking longer" in replies(out, 4242)
    assert [e["clock"] for e in await clock_events(db, case_id)] == ["refund_after_receipt"]


async def test_a_clock_whose_case_moved_on_does_nothing(service, db, clock):
    rejected, _ = await a_case(db, "return", "rejected")
    closed, _ = await a_case(db, "exchange", "closed")
    async with db.transaction() as s:
        repo = TimerRepo(s)
        await repo.add("review", clock.now(), now=clock.now(), case_id=rejected, chat_id=4242)
        await repo.add("exchange_ship_after_receipt", clock.now(), now=clock.now(),
                       case_id=closed, chat_id=4242)  # fmt: skip
        await repo.add("ship_back", clock.now(), now=clock.now(), case_id=closed, chat_id=4242)
    clock.advance(timedelta(minutes=1))
    assert await fire_due(service) == []
    assert await event_kinds(db, rejected) == [] and await event_kinds(db, closed) == []
    async with db.read() as s:
        assert None not in list(await s.scalars(select(Timer.fired_at)))


async def test_the_review_deadline_across_the_national_day_holidays(db, tmp_path):
    """A request made on Wednesday 30 September 2026 goes to a person: the 2 working days of
    the review skip the National Day week (1–7 October, the 4th a Sunday) and end on Friday
    9 October, not on 2 October."""
    start = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    clock = FrozenClock(start)
    async with db.transaction() as s:
        wang = await make_customer(s, phone=WANG_PHONE, language="en")
        laptop = [{"name": "Laptop Pro", "unit_price": "8999.00"}]
        order = await make_order(s, wang, order_no="DD2026092700001", items=laptop,
                                 now=start.astimezone(UTC))  # fmt: skip
    service = make_service(db, clock)
    chat = await identified(service)
    await approved_return(chat, order.order_no)
    case = await the_case(db)
    assert case.status == "pending_review"
    review = (await pending(db))["review"]
    assert review.due_at.astimezone(SHANGHAI) == datetime(2026, 10, 9, 23, 59, 59, 999000,
                                                          tzinfo=SHANGHAI)  # fmt: skip
    clock.set(datetime(2026, 10, 9, 23, 0, tzinfo=SHANGHAI))  # over a week later: not yet
    await fire_due(service, chat)  # (the first answer's clocks, promised for 30 September)
    assert await clock_events(db, case.id) == []
    clock.set(datetime(2026, 10, 10, 0, 1, tzinfo=SHANGHAI))
    await fire_due(service, chat)
    assert [e["action"] for e in await clock_events(db, case.id)] == ["escalate"]


async def test_refund_deadlines_by_payment_method_skip_the_holidays(db):
    """T12: refund 3 working days after receipt for online payment, 7 for cash on delivery;
    received on 30 September 2026, both count from the 8th (the 10th is a make-up Saturday)."""
    clock = FrozenClock(datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI))
    service = make_service(db, clock, "t12")
    online, _ = await a_case(db, "return", "in_transit")
    cod, _ = await a_case(db, "return", "in_transit", payment="cod", chat_id=4243)
    await step(service, online, "received")
    await step(service, cod, "received", lane=4243)
    async with db.read() as s:
        rows = await s.scalars(select(Timer.due_at).where(Timer.kind == "refund_after_receipt")
                               .order_by(Timer.case_id))  # fmt: skip
        dates = [due.astimezone(SHANGHAI).date().isoformat() for due in rows]
    assert dates == ["2026-10-10", "2026-10-15"]
