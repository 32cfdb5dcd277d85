"""The outbox's first step after a commit: a committed row leaves without waiting for the poll,
and looking for it does not queue behind the database's writers (bench/latency_bench.py)."""

import asyncio

from bot.emulator import Emulator
from bot.emulator.state import SimUser
from dialogs.clock import FrozenClock
from storage.db import Database
from tests.bot.test_outbox import clock, make_worker, queue, texts, users  # noqa: F401
from tests.bot.test_render import message

POLL = 60.0  # a poll a minute away: whatever goes out sooner was woken, not polled


async def test_a_row_committed_while_its_chat_is_being_sent_to_follows_without_a_poll(
    db: Database,
    emu: Emulator,
    users: list[SimUser],  # noqa: F811
    clock: FrozenClock,  # noqa: F811
    make_worker,  # noqa: F811
) -> None:
    ann = users[0]
    worker = make_worker(poll_interval=POLL)
    running = asyncio.create_task(worker.run())
    try:
        await asyncio.sleep(0.05)  # the first look found nothing
        emu.faults.slow("sendMessage", 0.3)  # the chat's task is busy with its first row...
        await queue(db, clock, message(ann.id, "first"))
        worker.wake()
        await emu.wait_until(lambda: bool(emu.calls_to("sendMessage")), 2)
        # ...when the next turn's row is committed: the look skips busy chats, so it is the
        # chat's own task (or its end) that must pick this row up, not the poll a minute away.
        await queue(db, clock, message(ann.id, "second"))
        worker.wake()
        await emu.wait_for_messages(ann, 2, timeout=2)
    finally:
        await worker.stop()
        await running
    assert texts(emu, ann) == ["first", "second"]


async def test_looking_for_due_rows_does_not_wait_for_a_writer(
    db: Database,
    emu: Emulator,
    users: list[SimUser],  # noqa: F811
    clock: FrozenClock,  # noqa: F811
    make_worker,  # noqa: F811
) -> None:
    """On SQLite the process's writers take turns (one write lock); a unit of work holding it
    must not hold up the outbox's look for what was committed before it."""
    ann = users[0]
    await queue(db, clock, message(ann.id, "committed before the writer"))
    worker = make_worker(poll_interval=POLL)
    holding, release = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with db.transaction():
            holding.set()
            await release.wait()

    other = asyncio.create_task(writer())
    await holding.wait()
    try:
        # The look finds the chat and starts its task while the writer still holds on; the
        # claim (a write) then waits its turn.
        assert await asyncio.wait_for(worker._tick(), 1.0) == 1
    finally:
        release.set()
        await other
    assert await worker.flush(5)
    assert texts(emu, ann) == ["committed before the writer"]
