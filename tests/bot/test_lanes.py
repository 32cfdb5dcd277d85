"""Lanes: a forum topic's update joins the lane of the customer whose case it carries, so
two agents on two cases in one group never wait on each other, and an agent's action and the
customer's own message never run at once."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from bot.intake import Inbox
from bot.processor import Processor
from dialogs.clock import FrozenClock
from dialogs.texts import Texts
from storage.db import Database
from storage.unit import Units
from tests.factories import make_case, make_customer, make_order

GROUP = -1_001_000_000_123
NOW = datetime(2026, 11, 26, tzinfo=UTC)


class RecordingWork:
    """Stands in for `dialogs.work.Work`: records the lanes of each batch it is given."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    async def run_many(self, jobs):
        self.batches.append([job.lane for job in jobs])
        await asyncio.sleep(0.05)
        return [[] for _ in jobs]

    async def run(self, job):
        return (await self.run_many([job]))[0]


def topic_message(update_id: int, thread_id: int, user_id: int) -> dict:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "message_thread_id": thread_id,
        "is_topic_message": True, "text": "on it",
        "chat": {"id": GROUP, "type": "supergroup", "title": "Agents", "is_forum": True},
        "from": {"id": user_id, "is_bot": False, "first_name": "Agent"}}}  # fmt: skip


async def test_two_topics_of_one_group_run_in_their_customers_lanes(db: Database):
    async with db.transaction() as s:
        cases = []
        for n, topic in enumerate((11, 22)):
            customer = await make_customer(s, telegram_user_id=700 + n)
            order = await make_order(s, customer)
            cases.append(await make_case(s, order, chat_id=700 + n, agent_chat_id=GROUP,
                                         topic_id=topic))  # fmt: skip
    work = RecordingWork()
    processor = Processor(work, Units(db, "Asia/Shanghai"), FrozenClock(NOW), Texts())  # type: ignore[arg-type]
    inbox = Inbox(db, FrozenClock(NOW), processor.submit)  # the lane is found as it is stored
    await inbox.store([topic_message(1, 11, 901), topic_message(2, 22, 902)])
    assert await processor.drain(10)
    # Each in the lane of its case's customer, not both in the group's one lane.
    assert sorted(lane for batch in work.batches for lane in batch) == [700, 701]


async def test_a_customers_message_and_an_agents_action_share_one_lane(db: Database):
    async with db.transaction() as s:
        customer = await make_customer(s, telegram_user_id=700)
        order = await make_order(s, customer)
        await make_case(s, order, chat_id=700, agent_chat_id=GROUP, topic_id=11)
    work = RecordingWork()
    processor = Processor(work, Units(db, "Asia/Shanghai"), FrozenClock(NOW), Texts())  # type: ignore[arg-type]
    inbox = Inbox(db, FrozenClock(NOW), processor.submit)
    customer_says = {"update_id": 2, "message": {"message_id": 5, "date": 0, "text": "hi",
                     "chat": {"id": 700, "type": "private"},
                     "from": {"id": 700, "is_bot": False, "first_name": "C"}}}  # fmt: skip
    await inbox.store([topic_message(1, 11, 901), customer_says])
    assert await processor.drain(10)
    assert work.batches == [[700], [700]]  # one after the other, never at once
