"""Group commit: jobs of different lanes ready at once share one unit of work."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from dialogs.events import Event, Outgoing, Reply
from dialogs.work import Batcher, CustomerInput, Job
from storage.db import Database
from storage.models import Conversation, Inbox, Outbox
from storage.repos import InboxRepo
from tests.dialogs.harness import Service

NOW = datetime(2026, 11, 26, tzinfo=UTC)


async def stored_start(db: Database, chat_id: int) -> Job:
    """A /start the intake stored, as the processor hands it over."""
    async with db.transaction() as s:
        inbox_id = await InboxRepo(s).record(chat_id, f"message:{chat_id}:1", chat_id, {}, NOW)
    assert inbox_id is not None
    event = Event(inbox_id, chat_id, chat_id, "command", command="start")
    return Job(chat_id, CustomerInput(event), (inbox_id,))


async def test_ready_jobs_share_a_unit(service: Service, db: Database):
    sizes: list[int] = []
    original = service.work.run_many

    async def spy(jobs):
        sizes.append(len(jobs))
        return await original(jobs)

    service.work.run_many = spy  # type: ignore[method-assign]
    jobs = [await stored_start(db, 100 + n) for n in range(20)]
    results = await asyncio.gather(*(service.batcher.submit(job) for job in jobs))
    assert all(any(isinstance(o, Reply) for o in out) for out in results)
    assert sizes and max(sizes) > 1 and sum(sizes) == 20
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Conversation)) == 20
        done = select(func.count()).select_from(Inbox).where(Inbox.status == "done")
        assert await s.scalar(done) == 20


async def test_one_failing_job_costs_only_itself(service: Service, db: Database):
    original = service.work.conversations.handle

    async def flaky(state, event, shop, now):
        if event.chat_id == 107:
            raise RuntimeError("boom")
        return await original(state, event, shop, now)

    service.work.conversations.handle = flaky  # type: ignore[method-assign]
    jobs = [await stored_start(db, 100 + n) for n in range(10)]
    batcher = Batcher(service.work)
    results = await asyncio.gather(*(batcher.submit(j) for j in jobs), return_exceptions=True)
    assert isinstance(results[7], RuntimeError)
    assert all(isinstance(r, list) and r for i, r in enumerate(results) if i != 7)
    async with db.read() as s:
        assert await s.scalar(select(func.count()).select_from(Conversation)) == 9
        chats = set(await s.scalars(select(Outbox.chat_id)))
    assert 107 not in chats and len(chats) == 9


async def test_a_batch_refuses_two_jobs_of_one_lane(service: Service, db: Database):
    job = await stored_start(db, 1)
    with pytest.raises(ValueError, match="one job per lane"):
        await service.work.run_many([job, job])


async def test_an_update_finished_elsewhere_is_not_done_twice(service: Service, db: Database):
    first, second = await stored_start(db, 201), await stored_start(db, 202)
    async with db.transaction() as s:  # another worker did the first meanwhile
        await InboxRepo(s).mark_done(first.inbox_ids[0], NOW)
    results = await asyncio.gather(*(service.batcher.submit(j) for j in (first, second)))
    assert results[0] == [] and results[1]
    async with db.read() as s:
        assert set(await s.scalars(select(Conversation.chat_id))) == {202}
        assert set(await s.scalars(select(Outbox.chat_id))) == {202}


async def test_with_two_at_once_a_second_batch_runs_while_the_first_waits(
    service: Service, db: Database
):
    release = asyncio.Event()
    original = service.work.run_many
    first_lanes: list[int] = []

    async def slow_first(jobs):
        if not first_lanes:
            first_lanes.extend(j.lane for j in jobs)
            await release.wait()  # the first batch waits, as for a slow database
        return await original(jobs)

    service.work.run_many = slow_first  # type: ignore[method-assign]
    batcher = Batcher(service.work, parallel=2)
    first = asyncio.create_task(batcher.submit(await stored_start(db, 301)))
    await asyncio.sleep(0.01)
    later = [await stored_start(db, 302), await stored_start(db, 303)]
    done = await asyncio.wait_for(asyncio.gather(*(batcher.submit(j) for j in later)), 5)
    assert all(any(isinstance(o, Reply) for o in out) for out in done)
    assert first_lanes == [301] and not first.done()
    release.set()
    assert any(isinstance(o, Reply) for o in await asyncio.wait_for(first, 5))


async def test_a_job_submitted_as_its_batch_ends_is_handled(service: Service, db: Database):
    # The customer's next input comes the moment the previous answer is handed back, before
    # the finished batch's task is gone: it must start a batch of its own, not wait forever.
    batcher = Batcher(service.work, parallel=1)
    jobs = [await stored_start(db, 400 + n) for n in range(3)]

    async def one_after_another() -> list[list[Outgoing]]:
        return [await batcher.submit(job) for job in jobs]

    for out in await asyncio.wait_for(one_after_another(), 5):
        assert any(isinstance(o, Reply) for o in out)
