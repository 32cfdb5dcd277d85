"""The bot prunes once a day in its own process (bot/pruning.py), and stops with the bot."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from bot import pruning
from bot.settings import Settings
from dialogs.policy import load_policy
from storage.db import Database
from storage.models import Case, Evidence, Inbox
from tests.factories import NOW, make_case, make_customer, make_order


class Clock:
    def now(self):
        return NOW


async def _seed(db: Database, photo: Path) -> None:
    long_ago = NOW - timedelta(days=1100)
    async with db.transaction() as s:
        s.add(
            Inbox(
                update_id=1,
                identity="m:1",
                chat_id=7,
                payload={},
                status="done",
                received_at=long_ago,
                processed_at=long_ago,
            )
        )
        order = await make_order(s, await make_customer(s))
        case = await make_case(
            s,
            order,
            status="rejected",
            created_at=long_ago,
            closed_at=long_ago,
            description="words",
        )
        s.add(
            Evidence(
                case_id=case.id,
                kind="photo",
                file_id="f",
                file_unique_id="u",
                local_path=str(photo),
            )
        )


async def test_the_pruner_runs_after_its_delay_and_deletes_the_files(db: Database, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"jpeg")
    await _seed(db, photo)
    pruner = pruning.Pruner(
        db, Clock(), processed_days=7, retention_days=1095, interval=3600, first_after=0.01
    )
    task = asyncio.create_task(pruner.run())
    for _ in range(200):
        await asyncio.sleep(0.01)
        if not photo.exists():
            break
    pruner.stop()
    await asyncio.wait_for(task, 5)
    assert not photo.exists()
    async with db.read() as s:
        assert (await s.scalars(select(Inbox))).all() == []
        assert (await s.scalars(select(Evidence))).all() == []
        assert (await s.scalar(select(Case.description))) == ""


async def test_start_and_stop_once_per_database(db: Database):
    settings = Settings(_env_file=None)
    first = pruning.start(db, Clock(), settings, load_policy("standard"))
    assert pruning.start(db, Clock(), settings, load_policy("standard")) is first
    assert (first.processed_days, first.retention_days) == (7, 1095)
    await pruning.stop(db)  # long before its first run: nothing pruned, the task ended
    await pruning.stop(db)
    assert id(db) not in pruning._running
