"""The shop's clocks, through the real bot: a promise made when a case goes to a person is
kept as a timer, fires once when it passes unanswered — after a restart too, and when it fell
due while the bot was down."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select

from dialogs.clock import ShiftedClock
from storage import migrate
from storage.db import Database
from storage.models import CaseEvent, Timer
from tests.e2e.harness import Customer, running_bot, seed_demo

ALICE = "+447700900123"
WEEK = timedelta(days=7)  # past any first-response promise, holidays included
LATE = "still waiting for a person"


@pytest.fixture
async def shop_url(database_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, database_url)
    await seed_demo(database_url)
    return database_url


async def rows(url: str, model: type) -> list:
    db = Database(url)
    try:
        async with db.read() as s:
            found = list((await s.scalars(select(model))).all())
            s.expunge_all()
            return found
    finally:
        await db.dispose()


async def ask_for_a_person(emu) -> Customer:
    alice = Customer(emu, emu.create_user(first_name="Alice", language_code="en"))
    await alice.say("/start", expect=2)
    await alice.share_contact(ALICE, expect=2)
    await alice.say("/human")
    await alice.say("Can you engrave my name on the box I bought?", expect=2)
    assert "A person will answer here by" in alice.texts(), alice.texts()
    return alice


def late_notices(alice: Customer) -> int:
    return sum(LATE in (m.text or "") for m in alice.messages())


async def test_an_unanswered_promise_is_told_honestly_once(emulator, shop_url, tmp_path):
    clock = ShiftedClock()
    async with running_bot(emulator, shop_url, tmp_path, clock=clock) as bot:
        alice = await ask_for_a_person(bot.emu)
        [timer] = await rows(shop_url, Timer)
        assert timer.kind == "first_response" and timer.fired_at is None
        clock.advance(WEEK)
        bot.runtime.timers.wake()
        await bot.emu.wait_until(lambda: late_notices(alice) == 1, 10)
    events = [e.kind for e in await rows(shop_url, CaseEvent)]
    assert events.count("first_response_breached") == 1
    [timer] = await rows(shop_url, Timer)
    assert timer.fired_at is not None
    # A restart does not fire it again.
    async with running_bot(emulator, shop_url, tmp_path, clock=clock) as bot:
        bot.runtime.timers.wake()
        await asyncio.sleep(1.0)
    assert late_notices(alice) == 1


async def test_a_promise_that_fell_due_while_the_bot_was_down_fires_at_start(
    emulator, shop_url, tmp_path
):
    clock = ShiftedClock()
    async with running_bot(emulator, shop_url, tmp_path, clock=clock) as bot:
        alice = await ask_for_a_person(bot.emu)
    clock.advance(WEEK)  # the bot is down meanwhile
    async with running_bot(emulator, shop_url, tmp_path, clock=clock) as bot:
        await bot.emu.wait_until(lambda: late_notices(alice) == 1, 10)
    assert [e.kind for e in await rows(shop_url, CaseEvent)].count("first_response_breached") == 1
