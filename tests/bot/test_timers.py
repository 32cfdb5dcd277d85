"""The timer worker outlives the database going away: the clocks go on once it is back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from bot import timers
from bot.timers import TimerWorker
from dialogs.clock import FrozenClock
from storage.db import Database
from storage.repos import TimerRepo
from storage.views import TimerView

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


async def test_a_failed_look_for_the_next_timer_does_not_stop_the_clocks(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # In a chaos run a PostgreSQL restart failed this look, which ended the worker's timers
    # and so the whole worker ("the bot stopped because its timers ended").
    monkeypatch.setattr(timers, "FAILED_LOOK_PAUSE", 0.05)
    real = TimerRepo.next_due
    failures = 0

    async def away(self: TimerRepo) -> datetime | None:
        nonlocal failures
        if failures < 2:
            failures += 1
            raise OperationalError("SELECT", None, ConnectionRefusedError(111, "refused"))
        return await real(self)

    monkeypatch.setattr(TimerRepo, "next_due", away)
    clock = FrozenClock(START)
    fired: list[TimerView] = []
    worker = TimerWorker(db, clock, fired.append, idle=0.05)
    task = asyncio.create_task(worker.run())
    try:
        async with db.transaction() as s:
            await TimerRepo(s).add("ship_back_reminder", START + timedelta(hours=1), now=START,
                                   chat_id=7)  # fmt: skip
        for _ in range(100):
            if failures == 2:
                break
            await asyncio.sleep(0.02)
        assert failures == 2 and not task.done()
        clock.advance(timedelta(hours=2))
        worker.wake()
        for _ in range(100):
            if fired:
                break
            await asyncio.sleep(0.02)
        assert [(t.kind, t.chat_id) for t in fired] == [("ship_back_reminder", 7)]
    finally:
        worker.stop()
        await asyncio.wait_for(task, 5)
