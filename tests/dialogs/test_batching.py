"""Group commit: events of different chats ready at once share one transaction."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from dialogs.events import Event, Reply
from dialogs.service import Batcher, ConversationService, Job
from storage.db import Database
from storage.models import Conversation, Inbox, Outbox


def start(chat_id: int, event_id: int) -> Job:
    return Job(Event(event_id, chat_id, chat_id, "command", command="start"))


async def test_ready_events_share_a_transaction(service: ConversationService, db: Database):
    sizes: list[int] = []
    original = service.handle_many

    async def spy(jobs):
        sizes.append(len(jobs))
        return await original(jobs)

    service.handle_many = spy  # type: ignore[method-assign]
    batcher = Batcher(service)
    results = await asyncio.gather(*(batcher.submit(start(100 + n, 5000 + n)) for n in range(20)))
    assert all(any(isinstance(o, Reply) for o in out) for out in results)
    assert sizes and max(sizes) > 1 and sum(sizes) == 20
    async with db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Conversation)) == 20
        assert await s.scalar(select(func.count()).select_from(Inbox)) == 20


async def test_one_failing_event_costs_only_itself(service: ConversationService, db: Database):
    original = service.conversations.handle

    async def flaky(state, event, shop, now=None):
        if event.chat_id == 107:
            raise RuntimeError("boom")
        return await original(state, event, shop, now)

    service.conversations.handle = flaky  # type: ignore[method-assign]
    batcher = Batcher(service)
    results = await asyncio.gather(
        *(batcher.submit(start(100 + n, 6000 + n)) for n in range(10)), return_exceptions=True
    )
    assert isinstance(results[7], RuntimeError)
    assert all(isinstance(r, list) and r for i, r in enumerate(results) if i != 7)
    async with db.transaction() as s:
        assert await s.scalar(select(func.count()).select_from(Conversation)) == 9
        chats = set(await s.scalars(select(Outbox.chat_id)))
    assert 107 not in chats and len(chats) == 9


async def test_a_batch_refuses_two_events_of_one_chat(service: ConversationService):
    with pytest.raises(ValueError, match="one event per chat"):
        await service.handle_many([start(1, 1), start(1, 2)])


async def test_an_update_finished_elsewhere_is_not_done_twice(
    service: ConversationService, db: Database
):
    from datetime import UTC, datetime

    from storage.repos import InboxRepo

    now = datetime(2026, 11, 26, tzinfo=UTC)
    ids = []
    async with db.transaction() as s:  # the intake stored both; another worker did the first
        for update_id, chat_id in ((7001, 201), (7002, 202)):
            ids.append(await InboxRepo(s).record(update_id, "x", chat_id, {}, now))
        await InboxRepo(s).mark_done(ids[0], now)
    jobs = [
        Job(Event(ids[0], 201, 201, "command", command="start"), stored=True),
        Job(Event(ids[1], 202, 202, "command", command="start"), stored=True),
    ]
    batcher = Batcher(service)  # one batch: the guarded pending → done step catches it
    results = await asyncio.gather(*(batcher.submit(job) for job in jobs))
    assert results[0] == [] and results[1]
    async with db.transaction() as s:
        assert set(await s.scalars(select(Conversation.chat_id))) == {202}
        assert set(await s.scalars(select(Outbox.chat_id))) == {202}
