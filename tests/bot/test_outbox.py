"""The outbox worker against the emulator: order, retries, blocked chats, never twice."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy import select, text
from sqlalchemy.exc import OperationalError

from bot import outbox, shared_limits
from bot.emulator import Emulator, EmulatorServer, SimUser
from bot.outbox import OutboxWorker, RetryPolicy
from bot.ratelimit import Limits, Rate, RateLimiter
from dialogs.clock import FrozenClock
from dialogs.events import Event
from storage.db import Database
from storage.models import BlockedChat, Outbox
from storage.repos import OutboxRepo
from storage.repos.outbox import IN_DOUBT
from tests.bot.conftest import TOKEN
from tests.bot.test_render import buttons, decoded, message
from tests.dialogs.harness import make_service

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


class FakeTime:
    """Monotonic time for the limiter that only moves when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


FAST = Limits(private=Rate(1000, 1000), group=Rate(1000, 1000), overall=Rate(1000, 1000))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def make_worker(db: Database, bot: Bot, clock: FrozenClock):
    def make(**options: Any) -> OutboxWorker:
        time = FakeTime()
        options.setdefault("limiter", RateLimiter(FAST, clock=time, sleep=time.sleep))
        options.setdefault("rand", lambda: 0.5)  # no jitter: delays are exactly 1, 2, 4 s
        return OutboxWorker(db, bot, clock=clock, **options)

    return make


@pytest.fixture
async def users(emu: Emulator) -> list[SimUser]:
    people = [emu.create_user(first_name=name) for name in ("Ann", "Bob", "Cid")]
    for person in people:
        await emu.user_sends_text(person, "/start")
    return people


async def queue(db: Database, clock: FrozenClock, *payloads: dict[str, Any]) -> list[int]:
    """Rows as a unit of work writes them; their ids."""
    async with db.transaction() as session:
        repo = OutboxRepo(session)
        await repo.add_many([(p["chat_id"], None, p) for p in payloads], clock.now())
        return [row.id for row in await repo.rows()][-len(payloads) :]


async def rows(db: Database) -> dict[int, Outbox]:
    async with db.read() as session:
        found = {row.id: row for row in await session.scalars(select(Outbox))}
        session.expunge_all()  # keep them loaded past the read's rollback
        return found


def texts(emu: Emulator, user: SimUser) -> list[str | None]:
    return [m.text for m in emu.sent_messages(user)]


async def test_rows_go_in_order_per_chat_and_chats_in_parallel(
    db,
    emu,
    users,
    clock,
    make_worker,
):
    ann, bob, cid = users
    payloads = [message(u.id, f"{u.first_name} {n}") for n in range(5) for u in (ann, bob, cid)]
    ids = await queue(db, clock, *payloads)
    emu.faults.slow("sendMessage", 0.1)  # calls overlap only if chats really run in parallel
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await make_worker().flush(10)
    assert loop.time() - started < 15 * 0.1  # faster than one after another
    for user in users:
        assert texts(emu, user) == [f"{user.first_name} {n}" for n in range(5)]
    stored = await rows(db)
    assert {stored[i].status for i in ids} == {"sent"}
    assert all(stored[i].telegram_message_id and stored[i].error is None for i in ids)
    assert emu.validation_errors == []


async def test_429_waits_retry_after_for_that_chat_only(db, emu, users, clock, make_worker):
    ann, bob, _ = users
    first, second, other = await queue(
        db, clock, message(ann.id, "one"), message(ann.id, "two"), message(bob.id, "hi")
    )
    emu.faults.fail_next("sendMessage", status=429, retry_after=3)
    worker = make_worker()
    await worker.flush(5)
    stored = await rows(db)
    assert stored[first].status == "pending" and stored[first].attempts == 0
    assert stored[first].next_attempt_at == START + timedelta(seconds=3)
    assert stored[second].status == "pending" and stored[second].attempts == 0
    assert stored[other].status == "sent"
    assert texts(emu, ann) == []
    clock.advance(timedelta(seconds=2))
    await worker.flush(5)
    assert texts(emu, ann) == []  # not before retry_after
    clock.advance(timedelta(seconds=1))
    await worker.flush(5)
    assert texts(emu, ann) == ["one", "two"]
    to_ann = [c for c in emu.calls_to("sendMessage") if str(c.params["chat_id"]) == str(ann.id)]
    assert [c.ok for c in to_ann] == [False, True, True]
    assert (await rows(db))[first].status == "sent"
    assert emu.validation_errors == []


@pytest.mark.parametrize("fault", ["500", "drop"])
async def test_server_and_network_errors_back_off_then_succeed(
    db,
    emu,
    users,
    clock,
    make_worker,
    fault,
):
    ann = users[0]
    [row_id] = await queue(db, clock, message(ann.id, "hello"))
    if fault == "500":
        emu.faults.fail_next("sendMessage", status=500, times=2)
    else:
        emu.faults.drop_connection("sendMessage", times=2)
    worker = make_worker()
    await worker.flush(5)
    stored = (await rows(db))[row_id]
    assert (stored.status, stored.attempts) == ("pending", 1)
    assert stored.next_attempt_at == START + timedelta(seconds=1)
    clock.advance(timedelta(seconds=1))
    await worker.flush(5)
    stored = (await rows(db))[row_id]
    assert (stored.status, stored.attempts) == ("pending", 2)
    assert stored.next_attempt_at == START + timedelta(seconds=1 + 2)
    clock.advance(timedelta(seconds=2))
    await worker.flush(5)
    assert texts(emu, ann) == ["hello"]
    stored = (await rows(db))[row_id]
    assert (stored.status, stored.attempts) == ("sent", 3)
    assert emu.validation_errors == []


async def test_gives_up_after_max_attempts_and_the_chat_goes_on(
    db,
    emu,
    users,
    clock,
    make_worker,
):
    ann = users[0]
    doomed, after = await queue(db, clock, message(ann.id, "doomed"), message(ann.id, "after"))
    emu.faults.fail_next("sendMessage", status=502, times=3)
    worker = make_worker(retry=RetryPolicy(max_attempts=3))
    for _ in range(3):
        await worker.flush(5)
        clock.advance(timedelta(minutes=5))
    stored = await rows(db)
    assert stored[doomed].status == "failed" and "gave up after 3 attempts" in stored[doomed].error
    assert stored[after].status == "sent"
    assert texts(emu, ann) == ["after"]
    assert emu.validation_errors == []


async def test_blocked_user_blocks_the_chat_without_retries(
    db,
    emu,
    users,
    clock,
    make_worker,
):
    ann, bob, _ = users
    await emu.user_blocks_bot(ann)
    ids = await queue(
        db, clock, message(ann.id, "a1"), message(ann.id, "a2"), message(bob.id, "b1")
    )
    worker = make_worker()
    await worker.flush(5)
    stored = await rows(db)
    assert [stored[i].status for i in ids] == ["blocked", "blocked", "sent"]
    assert "blocked by the user" in stored[ids[0]].error
    async with db.read() as session:
        assert await session.get(BlockedChat, ann.id) is not None
    [later] = await queue(db, clock, message(ann.id, "a3"))
    clock.advance(timedelta(hours=1))
    await worker.flush(5)
    assert (await rows(db))[later].status == "blocked"
    assert (
        len([c for c in emu.calls_to("sendMessage") if str(c.params["chat_id"]) == str(ann.id)])
        == 1
    )
    assert emu.validation_errors == []


async def test_bad_request_fails_the_row_and_later_rows_still_go(
    db,
    emu,
    users,
    clock,
    make_worker,
    caplog,
):
    ann = users[0]
    bad, good = await queue(db, clock, message(ann.id, "bad"), message(ann.id, "good"))
    emu.faults.fail_next("sendMessage", status=400, description="Bad Request: chat not found")
    with caplog.at_level("ERROR", logger="bot.outbox"):
        await make_worker().flush(5)
    stored = await rows(db)
    assert stored[bad].status == "failed" and "chat not found" in stored[bad].error
    assert stored[good].status == "sent"
    assert texts(emu, ann) == ["good"]
    assert any("rejected" in r.message for r in caplog.records)
    assert emu.validation_errors == []


async def test_an_unsendable_payload_fails_without_a_call(db, emu, users, clock, make_worker):
    ann = users[0]
    too_long = message(ann.id, "x", buttons=[[{"text": "t", "data": "d" * 65}]])
    bad, _ = await queue(db, clock, too_long, message(ann.id, "fine"))
    await make_worker().flush(5)
    stored = await rows(db)
    assert stored[bad].status == "failed" and "64 bytes" in stored[bad].error
    assert texts(emu, ann) == ["fine"]
    assert emu.validation_errors == []


async def test_never_twice(db, emu, users, clock, make_worker):
    ann, bob, _ = users
    await queue(db, clock, *[message(u.id, f"m{n}") for n in range(4) for u in (ann, bob)])
    # two workers (as two processes would) race for the same rows
    one, two = make_worker(), make_worker()
    assert all(await asyncio.gather(one.flush(10), two.flush(10)))
    assert texts(emu, ann) == texts(emu, bob) == ["m0", "m1", "m2", "m3"]
    calls = len(emu.calls)
    clock.advance(timedelta(days=1))
    assert await make_worker().flush(5)
    assert len(emu.calls) == calls
    assert emu.validation_errors == []


async def test_a_row_left_in_flight_by_a_crash_is_not_sent_again(
    db,
    emu,
    users,
    clock,
    make_worker,
):
    ann = users[0]
    lost, after = await queue(db, clock, message(ann.id, "lost?"), message(ann.id, "after"))
    async with db.transaction() as session:  # a worker took it, and died in the call
        until = START + timedelta(seconds=120)
        await OutboxRepo(session).claim_heads([ann.id], START, until, "dead")
    worker = make_worker()
    await worker.flush(5)
    assert texts(emu, ann) == []  # the claim still holds: its later rows wait too
    clock.advance(timedelta(seconds=120))
    await worker.flush(5)
    stored = await rows(db)
    assert (stored[lost].status, stored[lost].error) == ("failed", IN_DOUBT)
    assert stored[after].status == "sent"
    assert texts(emu, ann) == ["after"]


class LostAnswer:
    """A group writer whose first claim commits but whose answer is lost, as when PostgreSQL
    goes down between its COMMIT and the reply: the worker cannot tell it from a claim that
    never landed."""

    def __init__(self, group: Any) -> None:
        self.group = group
        self.lost = 0

    async def run_merged(self, merge: Any, item: Any) -> Any:
        result = await self.group.run_merged(merge, item)
        if not self.lost and getattr(merge, "__name__", "") == "_claim_heads":
            self.lost += 1
            raise OperationalError("COMMIT", None, ConnectionResetError("server closed"))
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self.group, name)


async def test_a_claim_whose_answer_was_lost_is_sent_at_once_and_once(
    db, emu, users, clock, make_worker
):
    ann = users[0]
    first, second = await queue(db, clock, message(ann.id, "menu"), message(ann.id, "next"))
    worker = make_worker()
    worker.group = lost = LostAnswer(worker.group)
    assert await worker.flush(5)
    assert lost.lost == 1
    # The row was claimed by this very worker and no call was made for it: it is not in doubt
    # and does not wait two minutes for its lease, it goes now.
    assert texts(emu, ann) == ["menu", "next"]
    stored = await rows(db)
    assert [stored[i].status for i in (first, second)] == ["sent", "sent"]
    clock.advance(timedelta(days=1))
    assert await make_worker().flush(5)
    assert texts(emu, ann) == ["menu", "next"]


async def test_a_booking_that_fails_does_not_fail_the_message(
    db, emu, users, clock, make_worker, monkeypatch, caplog
):
    """The shared rate buckets are on the path of every message; a booking that fails on an
    error waiting will not cure (in a chaos run: a connection the restarted server had left,
    "cannot switch to state …") used to fail the message for good. It is paced alone now."""
    ann = users[0]
    ids = await queue(db, clock, *(message(ann.id, f"m{n}") for n in range(3)))
    broken = text("SELECT no_such_column FROM rate_slots")
    monkeypatch.setattr(shared_limits, "_BOOK", broken)
    monkeypatch.setattr(shared_limits, "_BOOK_BOTH", broken)
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    limiter = shared_limits.SharedRateLimiter(db, FAST, sleep=sleep)
    assert await make_worker(limiter=limiter).flush(5)
    assert texts(emu, ann) == ["m0", "m1", "m2"]
    stored = await rows(db)
    assert [stored[i].status for i in ids] == ["sent"] * 3
    assert sleeps and all(s == pytest.approx(FAST.private.interval) for s in sleeps[:2])
    assert sum("rate buckets unusable" in r.message for r in caplog.records) == 1  # said once


async def test_a_split_message_resumes_after_the_parts_already_sent(
    db,
    emu,
    users,
    clock,
    make_worker,
):
    ann = users[0]
    text = "\n".join(f"line {n} " + "x" * 90 for n in range(100))
    [row_id] = await queue(db, clock, message(ann.id, text, buttons=buttons("ok")))
    worker = make_worker()
    emu.faults.slow("sendMessage", 0, times=1)  # let the first part through
    emu.faults.fail_next("sendMessage", status=500)
    await worker.flush(5)
    assert len(emu.sent_messages(ann)) == 1
    assert (await rows(db))[row_id].steps_done == 1
    clock.advance(timedelta(seconds=1))
    await worker.flush(5)
    sent = emu.sent_messages(ann)
    assert [ln for m in sent for ln in (m.text or "").split("\n")] == text.split("\n")
    assert sent[-1].button_data() == ["ok"]
    assert (await rows(db))[row_id].telegram_message_id == sent[-1].message_id
    assert emu.validation_errors == []


async def test_a_part_sent_but_not_recorded_is_in_doubt_not_failed(
    db, emu, users, clock, make_worker, monkeypatch
):
    """Telegram took the first part of a long message and writing that down failed for good:
    the row is not marked failed as if Telegram had refused it; it stays claimed, and once
    its lease is over it is in doubt, its parts never sent twice."""
    ann = users[0]
    text = "\n".join(f"line {n} " + "x" * 90 for n in range(100))
    [row_id] = await queue(db, clock, message(ann.id, text))
    monkeypatch.setattr(outbox, "RECORD_OUTAGE", 0.0)

    async def broken(*args: Any) -> None:
        raise OperationalError("UPDATE", None, ValueError("disk full"))

    monkeypatch.setattr(outbox, "_step_done", broken)
    await make_worker().flush(5)
    stored = (await rows(db))[row_id]
    assert len(emu.sent_messages(ann)) == 1
    assert (stored.status, stored.steps_done, stored.error) == ("sending", 0, None)
    monkeypatch.undo()
    clock.advance(timedelta(seconds=121))
    await make_worker().flush(5)
    stored = (await rows(db))[row_id]
    assert (stored.status, stored.error) == ("failed", IN_DOUBT)
    assert len(emu.sent_messages(ann)) == 1


async def test_a_stop_between_two_parts_hands_the_row_back(db, emu, users, clock, make_worker):
    ann = users[0]
    text = "\n".join(f"line {n} " + "x" * 90 for n in range(60))
    [row_id] = await queue(db, clock, message(ann.id, text))
    slow = RateLimiter(Limits(private=Rate(per_second=1, burst=1)))  # real time: 1 s per part
    assert not await make_worker(limiter=slow).stop(timeout=0.3)
    stored = (await rows(db))[row_id]
    assert len(emu.sent_messages(ann)) == 1
    assert (stored.status, stored.claimed_by, stored.steps_done) == ("pending", None, 1)
    assert await make_worker().flush(5)
    sent = emu.sent_messages(ann)
    assert [ln for m in sent for ln in (m.text or "").split("\n")] == text.split("\n")
    assert emu.validation_errors == []


async def test_callback_answers_including_expired_ones(db, emu, users, clock, make_worker):
    ann = users[0]
    await queue(db, clock, message(ann.id, "Pick", buttons=buttons("a")))
    worker = make_worker()
    await worker.flush(5)
    click = await emu.user_clicks(ann, emu.last_message(ann), "a")
    answer = {"kind": "callback_answer", "chat_id": ann.id, "text": "OK"}
    ids = await queue(
        db,
        clock,
        {**answer, "callback_id": click["callback_query"]["id"]},
        {**answer, "callback_id": "expired"},
    )
    await worker.flush(5)
    stored = await rows(db)
    assert [stored[i].status for i in ids] == ["sent", "sent"]
    assert emu.unanswered_callbacks() == []
    assert emu.validation_errors == []


async def test_wake_sends_at_once_and_stop_flushes(db, emu, users, clock, make_worker):
    ann = users[0]
    worker = make_worker(poll_interval=60)
    running = asyncio.create_task(worker.run())
    await asyncio.sleep(0.05)  # the first poll found nothing; the next is a minute away
    await queue(db, clock, message(ann.id, "now"))
    worker.wake()
    await emu.wait_for_messages(ann, 1, timeout=2)
    await queue(db, clock, message(ann.id, "before exit"), message(ann.id, "last"))
    assert await worker.stop(timeout=5)  # no wake(): stop() itself sends what is due
    await asyncio.wait_for(running, 2)
    assert texts(emu, ann) == ["now", "before exit", "last"]
    assert emu.validation_errors == []


async def test_the_worker_keeps_to_the_rate_limits(db, emu, users, clock, make_worker):
    ann = users[0]
    time = FakeTime()
    limiter = RateLimiter(clock=time, sleep=time.sleep)  # Telegram's limits
    await queue(db, clock, *[message(ann.id, f"m{n}") for n in range(6)])
    await make_worker(limiter=limiter).flush(5)
    assert texts(emu, ann) == [f"m{n}" for n in range(6)]
    # a burst of 3, then one a second
    assert time.now == pytest.approx(3.0)
    assert emu.validation_errors == []


async def test_no_429_from_a_telegram_that_enforces_its_limits(db, clock):
    async with EmulatorServer(enforce_rate_limits=True) as strict:
        emu = strict.emulator
        people = [emu.create_user() for _ in range(3)]
        for person in people:
            await emu.user_sends_text(person, "hi")
        await queue(db, clock, *[message(p.id, f"m{n}") for n in range(7) for p in people])
        session = AiohttpSession(api=TelegramAPIServer.from_base(strict.base_url))
        async with Bot(TOKEN, session=session) as real_bot:
            worker = OutboxWorker(db, real_bot, limiter=RateLimiter(), clock=clock)
            assert await worker.flush(10)
        assert emu.stats()["rate_limit_exceeded"] == 0
        for person in people:
            assert [m.text for m in emu.sent_messages(person)] == [f"m{n}" for n in range(7)]
        assert emu.validation_errors == []


# --- the rate limiter alone -------------------------------------------------------------------


async def test_private_chat_burst_then_one_per_second():
    time = FakeTime()
    limiter = RateLimiter(clock=time, sleep=time.sleep)
    sent_at = []
    for _ in range(6):
        await limiter.acquire(42)
        sent_at.append(time.now)
    assert sent_at == pytest.approx([0, 0, 0, 1, 2, 3])
    time.now += 60  # a quiet minute refills the burst
    for _ in range(3):
        await limiter.acquire(42)
    assert time.now == pytest.approx(63)


async def test_groups_get_20_per_minute():
    time = FakeTime()
    limiter = RateLimiter(clock=time, sleep=time.sleep)
    for _ in range(23):
        await limiter.acquire(-100)
    assert time.now == pytest.approx(60)  # 3 at once, then one every 3 s


async def test_global_limit_spans_chats():
    time = FakeTime()
    limiter = RateLimiter(
        Limits(private=Rate(1, 1), overall=Rate(per_second=10, burst=5)),
        clock=time,
        sleep=time.sleep,
    )
    sent_at = []
    for chat in range(1, 11):
        await limiter.acquire(chat)
        sent_at.append(time.now)
    assert sent_at == pytest.approx([0] * 5 + [0.1, 0.2, 0.3, 0.4, 0.5])
    await limiter.acquire(1)  # each chat still has its own bucket
    assert time.now == pytest.approx(1.0)


async def test_a_slow_chat_does_not_hold_up_the_others():
    time = FakeTime()
    limiter = RateLimiter(clock=time, sleep=time.sleep)
    limiter.penalize(7, 5)  # 429 for chat 7
    assert limiter.reserve_chat(7) == pytest.approx(5)
    await limiter.acquire(8)
    assert time.now == 0
    for _ in range(4):
        await limiter.acquire(-100)  # a group: 3 at once, the 4th in 3 s
    assert time.now == pytest.approx(3)
    await limiter.acquire(8)
    assert time.now == pytest.approx(3)


def test_penalize_everyone():
    time = FakeTime()
    limiter = RateLimiter(clock=time)
    limiter.penalize(None, 2)
    assert limiter.reserve_chat(9) == 0
    assert limiter.reserve_overall() == pytest.approx(2)


def test_retry_policy_doubles_up_to_the_cap_with_jitter():
    policy = RetryPolicy()
    assert [policy.delay(n, 0.5) for n in range(1, 11)] == [
        1, 2, 4, 8, 16, 32, 64, 128, 256, 300,
    ]  # fmt: skip
    assert policy.delay(3, 0.0) == pytest.approx(3.2)
    assert policy.delay(3, 0.999999) == pytest.approx(4.8, abs=1e-4)


# --- with the conversation service ------------------------------------------------------------


async def test_the_services_hook_wakes_the_worker(db, emu, users, clock, make_worker):
    ann = users[0]
    worker = make_worker(poll_interval=60)
    service = make_service(db, clock)
    service.work.on_outbox = worker.wake
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.05)
        event = Event(event_id=1, chat_id=ann.id, user_id=ann.id, kind="command", command="start")
        out = await service.handle(event)
        assert len(out) == 2
        shown = await emu.wait_for_messages(ann, 2, timeout=2)
        assert "Demo Shop" in shown[0].text
        assert [e["type"] for e in shown[1].entities] == ["bold", "bold"]
        markup = decoded(emu.calls_to("sendMessage")[-1].params)["reply_markup"]
        assert markup["keyboard"][0][0]["request_contact"] is True
    finally:
        await worker.stop()
        await running
    assert emu.validation_errors == []


async def test_a_chat_that_keeps_talking_does_not_starve_the_others(
    db, emu, users, clock, make_worker
):
    # One slot: Ann's next rows keep arriving while Bob waits. Bob's row is older than Ann's
    # second, so it goes out before it: the slot changes hands after each row.
    ann, bob, _ = users
    await queue(db, clock, message(ann.id, "Ann 1"), message(bob.id, "Bob 1"))
    await queue(db, clock, message(ann.id, "Ann 2"), message(ann.id, "Ann 3"))
    assert await make_worker(concurrency=1).flush(10)
    sent = [c.params["text"] for c in emu.calls_to("sendMessage") if c.ok]
    assert sent[-4:] == ["Ann 1", "Bob 1", "Ann 2", "Ann 3"]
