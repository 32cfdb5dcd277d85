"""Two workers on one database: of two writers of one conversation the loser's unit of work
is redone on the winner's state, never lost and never half-kept."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from dialogs.events import Event
from dialogs.work import CustomerInput, Job
from storage.db import Database
from storage.models import Conversation, Inbox, Outbox
from tests.dialogs.harness import make_service


async def stored(service, chat_id: int, update_id: int, command: str) -> Job:
    inbox_id = await service.units.record_event(update_id, chat_id, {}, service.clock.now())
    event = Event(inbox_id, chat_id, chat_id, "command", command=command)
    return Job(chat_id, CustomerInput(event), (inbox_id,))


async def test_the_loser_of_a_concurrent_write_is_redone(database_url, db, clock):
    first, other_db = make_service(db, clock), Database(database_url)
    second = make_service(other_db, clock)  # another process, as far as the database knows
    try:
        await first.work.run(await stored(first, 7, 1, "start"))
        a, b = await stored(first, 7, 2, "help"), await stored(first, 7, 3, "lang")
        if db.is_postgresql:
            # Worker A reads the conversation, then B reads, saves and commits first.
            read, go_on = asyncio.Event(), asyncio.Event()
            original = first.work.conversations.handle
            calls = 0

            async def slow(state, event, shop, now):
                nonlocal calls
                calls += 1
                if calls == 1:
                    read.set()
                    await go_on.wait()
                return await original(state, event, shop, now)

            first.work.conversations.handle = slow  # type: ignore[method-assign]
            task = asyncio.create_task(first.work.run(a))
            await read.wait()
            await second.work.run(b)
            go_on.set()
            await task
            assert calls == 2  # A's first try lost and was redone
        else:  # one writer at a time: the second waits for the first's commit
            await asyncio.gather(first.work.run(a), second.work.run(b))
        async with db.read() as s:
            assert await s.scalar(select(Conversation.version)) == 4
            pending = select(func.count()).select_from(Inbox).where(Inbox.status != "done")
            assert await s.scalar(pending) == 0
            outbox = (await s.scalars(select(Outbox.payload))).all()
        texts = " ".join(p["text"] for p in outbox)
        assert "/status" in texts and "中文" not in texts  # help, and the language question
        assert len([p for p in outbox if "language" in p["text"].lower()]) >= 1
    finally:
        await other_db.dispose()
