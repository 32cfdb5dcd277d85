"""The shop's clocks after the decision and the satisfaction survey, through the real bot and
the emulator with the clock jumped forward: a customer who never ships (reminded a day before,
then closed), a shop that never reviews (escalated, or approved automatically where the
profile says so), a review deadline across the National Day holidays, a return to its end with
a low rating alerting the agents' group, and two bot processes on one PostgreSQL database
firing each timer once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dialogs.clock import ShiftedClock
from dialogs.lifecycle.steps import Step
from storage import migrate
from storage.db import Database
from storage.demo import load_demo
from storage.models import Case, CaseEvent, Survey, Timer
from storage.repos.timers import TimerRepo
from tests.dialogs.clock_helpers import auto_approve_profile
from tests.e2e.desk import DESK_SETTINGS, SUPERVISOR, make_desk
from tests.e2e.harness import Customer, orders_of, running_bot, seed_demo
from tests.factories import make_case, make_customer, make_order

ALICE = "+447700900123"
ANKER = "Anker 737 Power Bank (PowerCore 24K), 140W"  # approved at once for a quality problem
MACBOOK = "MacBook Air 13-inch (M4), 16 GB, 512 GB, midnight"  # above 5000 CNY: a person decides
SHANGHAI = ZoneInfo("Asia/Shanghai")
PHOTO = b"\xff\xd8\xff" + b"p" * 4000


@pytest.fixture
async def shop_url(database_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, database_url)
    await seed_demo(database_url)
    return database_url


async def rows(url: str, model: type, *where: object) -> list:
    db = Database(url)
    try:
        async with db.read() as s:
            found = list((await s.scalars(select(model).where(*where).order_by(model.id))).all())
            s.expunge_all()
            return found
    finally:
        await db.dispose()


async def live_timers(url: str) -> dict[str, datetime]:
    found = await rows(url, Timer, Timer.fired_at.is_(None), Timer.cancelled_at.is_(None))
    return {t.kind: t.due_at for t in found}


async def alice_at_menu(emu) -> Customer:
    alice = Customer(emu, emu.create_user(first_name="Alice", language_code="en"))
    await alice.say("/start", expect=2)
    await alice.share_contact(ALICE, expect=2)
    return alice


async def quality_return(alice: Customer, url: str, item: str) -> str:
    """A quality return of one of Alice's items, through the chat; the case number."""
    await alice.tap("New request")
    await alice.say((await orders_of(url, ALICE))[item])
    if alice.has_button(item[:20]):
        await alice.tap(item[:20])
    await alice.tap("Return and refund")
    await alice.tap("Quality problem")
    await alice.say("It stopped working after two days")
    await alice.send_photo(PHOTO)
    await alice.tap("Done")
    await alice.tap("Confirm")
    [case] = await rows(url, Case)
    return case.case_no


def jump(bot, clock: ShiftedClock, to: datetime, after: timedelta = timedelta(minutes=1)) -> None:
    clock.advance(to + after - clock.now())
    bot.runtime.timers.wake()


async def test_a_customer_who_never_ships_is_reminded_then_the_case_is_closed(
    emulator, shop_url, tmp_path
):
    clock = ShiftedClock()
    async with running_bot(emulator, shop_url, tmp_path, clock=clock) as bot:
        alice = await alice_at_menu(bot.emu)
        case_no = await quality_return(alice, shop_url, ANKER)
        assert "Approved" in alice.texts() and case_no in alice.texts()
        timers = await live_timers(shop_url)
        assert timers["ship_back_reminder"] == timers["ship_back"] - timedelta(days=1)
        jump(bot, clock, timers["ship_back_reminder"])
        await bot.emu.wait_until(lambda: "A reminder: please send the item" in alice.texts(), 10)
        assert alice.has_button("Enter the waybill number")
        jump(bot, clock, timers["ship_back"])
        await bot.emu.wait_until(lambda: "How would you rate" in alice.texts(), 10)
        assert "not sent back by the deadline" in alice.texts()
    [case] = await rows(shop_url, Case)
    assert case.status == "closed"
    kinds = [e.kind for e in await rows(shop_url, CaseEvent)]
    assert kinds.count("clock_expired") == 2 and kinds.count("expire") == 1


async def test_a_shop_that_never_reviews_is_escalated_to_the_supervisors(
    emulator, shop_url, tmp_path
):
    clock = ShiftedClock()
    async with running_bot(emulator, shop_url, tmp_path, clock=clock, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await quality_return(alice, shop_url, MACBOOK)
        assert "A person from our team will review it" in alice.texts()
        await desk.wait(lambda: len(desk.topics()) == 1)
        topic = desk.only_topic()
        jump(bot, clock, (await live_timers(shop_url))["review"])
        await desk.wait(lambda: "超过审核时限仍未处理" in desk.texts(topic))
        assert desk.mentioned(SUPERVISOR, topic)
        await bot.emu.wait_until(lambda: "taking longer than we promised" in alice.texts(), 10)
    [case] = await rows(shop_url, Case)
    assert case.status == "pending_review"


async def test_a_shop_that_never_reviews_approves_automatically_by_its_profile(
    emulator, shop_url, tmp_path
):
    clock = ShiftedClock()
    policy = auto_approve_profile(tmp_path)
    async with running_bot(emulator, shop_url, tmp_path, clock=clock, policy=policy,
                           **DESK_SETTINGS) as bot:  # fmt: skip
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await quality_return(alice, shop_url, MACBOOK)
        await desk.wait(lambda: len(desk.topics()) == 1)
        jump(bot, clock, (await live_timers(shop_url))["review"])
        await bot.emu.wait_until(lambda: "approved automatically" in alice.texts(), 10)
        assert alice.has_button("Enter the waybill number")
        await desk.wait(lambda: "已通过" in desk.texts(desk.only_topic()))
        await alice.tap("Main menu")  # the bot has the chat again
        assert alice.has_button("New request")
    [case] = await rows(shop_url, Case)
    assert (case.status, case.desk) == ("awaiting_return", "decided")


async def test_the_review_deadline_lands_after_the_national_day_holidays(
    emulator, database_url, tmp_path
):
    """On Wednesday 30 September 2026 a request goes to a person: its two working days of
    review skip 1–7 October and end with Friday 9 October."""
    clock = ShiftedClock()
    clock.advance(datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI) - datetime.now(UTC))
    await asyncio.to_thread(migrate.upgrade, database_url)
    db = Database(database_url)
    try:
        await load_demo(db, clock.now())
    finally:
        await db.dispose()
    async with running_bot(emulator, database_url, tmp_path, clock=clock) as bot:
        alice = await alice_at_menu(bot.emu)
        await quality_return(alice, database_url, MACBOOK)
        review = (await live_timers(database_url))["review"]
        assert review.astimezone(SHANGHAI).date().isoformat() == "2026-10-09"
        jump(bot, clock, datetime(2026, 10, 9, 22, 0, tzinfo=SHANGHAI))
        await asyncio.sleep(1.0)
        assert "taking longer than we promised" not in alice.texts()
        jump(bot, clock, review)
        await bot.emu.wait_until(lambda: "taking longer than we promised" in alice.texts(), 10)


async def test_a_return_to_its_end_and_a_low_rating_alerting_the_group(
    emulator, shop_url, tmp_path
):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        case_no = await quality_return(alice, shop_url, ANKER)
        work = bot.runtime.work
        await work.step(case_no, Step("waybill", by="customer", via="chat", carrier="sf",
                                      number="SF1234567890123"))  # fmt: skip
        for trigger in ("received", "inspected_ok", "refunded", "close"):
            await work.step(case_no, Step(trigger, via="cli"))
        await bot.emu.wait_until(lambda: "How would you rate" in alice.texts(), 10)
        assert desk.topics() == {}  # approved by the policy: no person, no topic
        await alice.tap("1 · Very poor")
        await desk.wait(lambda: "满意度评分偏低" in desk.texts())
        topic = desk.only_topic()
        assert desk.mentioned(SUPERVISOR, topic) and case_no in desk.topics()[topic]
        for label in ("2 · Poor", "1 · Very poor", "3 · OK"):
            await alice.tap(label)
        await alice.say("The courier lost my first parcel")
        assert "Thank you for your feedback" in alice.last.text
        await desk.wait(lambda: "The courier lost my first parcel" in desk.texts(topic))
        [case] = await rows(shop_url, Case)
        # A tap of an answered question (a forged or old button): answered, nothing changes.
        await bot.emu.user_clicks(alice.user, alice.last, f"sv:{case.id}:rating:5", strict=False)
        await asyncio.sleep(0.5)
    [survey] = await rows(shop_url, Survey)
    assert (survey.rating, survey.attitude, survey.speed, survey.result) == (1, 2, 1, 3)
    assert survey.comment == "The courier lost my first parcel"


CASES = 24


async def test_two_bot_processes_on_postgresql_fire_each_timer_once(
    emulator, database_url, tmp_path
):
    db = Database(database_url)
    if not db.is_postgresql:
        await db.dispose()
        pytest.skip("several bot processes share a database on PostgreSQL only")
    await asyncio.to_thread(migrate.upgrade, database_url)
    emu = emulator.emulator
    users = [emu.create_user(first_name=f"C{n}", language_code="en") for n in range(CASES)]
    for user in users:
        emu.chats[user.id].known = True  # customers who talked to the bot before
    clock = ShiftedClock()
    now = clock.now()
    ship_by = {"ship_by": (now + timedelta(days=1)).isoformat()}
    try:
        async with db.transaction() as s:
            for n, user in enumerate(users):
                customer = await make_customer(s, language="en", telegram_user_id=user.id)
                order = await make_order(s, customer, order_no=f"DD2026112{n:07d}")
                case = await make_case(s, order, status="awaiting_return", chat_id=user.id,
                                       locale="en", case_no=f"AS-20261126-{n + 1:04d}",
                                       details=ship_by)  # fmt: skip
                await TimerRepo(s).add("ship_back_reminder", now + timedelta(hours=1), now=now,
                                       case_id=case.id, chat_id=user.id)  # fmt: skip
    finally:
        await db.dispose()
    reminded = "A reminder: please send the item"
    customers = [Customer(emu, user) for user in users]
    async with (
        running_bot(emulator, database_url, tmp_path / "1", webhook=True, clock=clock) as one,
        running_bot(emulator, database_url, tmp_path / "2", webhook=True, clock=clock) as two,
    ):
        for bot in (one, two):
            bot.runtime.timers.batch = 1  # one timer per look: the two really take turns
        clock.advance(timedelta(hours=2))
        one.runtime.timers.wake()
        two.runtime.timers.wake()
        await emu.wait_until(lambda: all(reminded in c.texts() for c in customers), 30)
        await asyncio.sleep(1.0)  # anything fired twice would arrive by now
    assert [c.texts().count(reminded) for c in customers] == [1] * CASES
    timers = await rows(database_url, Timer)
    assert all(t.fired_at is not None for t in timers)
    workers = {t.claimed_by for t in timers}
    assert workers == {one.runtime.timers.worker_id, two.runtime.timers.worker_id}, workers
    events = await rows(database_url, CaseEvent, CaseEvent.kind == "clock_expired")
    assert sorted(e.case_id for e in events) == sorted({e.case_id for e in events})
    assert len(events) == CASES
