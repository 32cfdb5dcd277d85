"""The outbox's first step after a commit: a committed row leaves without waiting for the poll,
and looking for it does not queue behind the database's writers (bench/latency_bench.py)."""

import asyncio

import pytest

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


@pytest.mark.parametrize("first", [["first"], ["first", "and more"]])
async def test_a_row_committed_as_its_chats_task_ends_follows_without_a_poll(
    db: Database,
    emu: Emulator,
    users: list[SimUser],  # noqa: F811
    clock: FrozenClock,  # noqa: F811
    make_worker,  # noqa: F811
    first: list[str],
) -> None:
    """The chat's task sent the last row its claim knew of, and the next turn's row is
    committed (its wake() looks, skipping the still busy chat) before the task has ended: the
    task must claim again. Only a task that saw no wake() since its claim may end without."""
    ann = users[0]
    worker = make_worker(poll_interval=POLL)
    send = worker._send
    late: list[int] = []

    async def send_then_commit(row, *, paid=False):  # type: ignore[no-untyped-def]
        go_on = await send(row, paid=paid)
        if len(emu.sent_messages(ann)) == len(first) and not late:
            late.extend(await queue(db, clock, message(ann.id, "late")))
            worker.wake()
            await asyncio.sleep(0.05)  # the wake's look runs while the chat is still busy
        return go_on

    worker._send = send_then_commit  # type: ignore[method-assign]
    running = asyncio.create_task(worker.run())
    try:
        await queue(db, clock, *(message(ann.id, text) for text in first))
        worker.wake()
        await emu.wait_for_messages(ann, len(first) + 1, timeout=2)
    finally:
        await worker.stop()
        await running
    assert late and texts(emu, ann) == [*first, "late"]


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
