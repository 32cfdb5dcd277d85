"""The weekly digest's timer at start-up: off by default, one live timer however often (or by
however many workers) it is set, replaced when the settings change, cancelled when turned off."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.reports.digest import schedule
from bot.settings import Settings
from dialogs.clock import FrozenClock
from dialogs.policy import load_policy
from storage.db import Database
from storage.models import Timer

GROUP = -1001234567890
THURSDAY = datetime(2026, 12, 3, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai


def _settings(**values: object) -> Settings:
    return Settings(agent_chat_ids=[GROUP], **values)  # type: ignore[arg-type]


async def _live(db: Database) -> list[Timer]:
    live = (Timer.kind == "report_digest", Timer.cancelled_at.is_(None))
    async with db.read() as s:
        found = list((await s.scalars(select(Timer).where(*live))).all())
        s.expunge_all()
        return found


async def test_the_digest_is_off_unless_asked_for(db: Database) -> None:
    policy = load_policy("standard")
    assert await schedule(db, FrozenClock(THURSDAY), _settings(), policy) is None
    assert await _live(db) == []


async def test_one_live_digest_next_monday_morning_then_moved_then_off(db: Database) -> None:
    policy, clock = load_policy("standard"), FrozenClock(THURSDAY)
    on = _settings(report_digest=True)
    due = await schedule(db, clock, on, policy)
    assert due == datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # Monday 7 December, 9:00 Shanghai
    await schedule(db, clock, on, policy)  # a second start, or a second worker
    [timer] = await _live(db)
    assert timer.chat_id == GROUP and timer.payload["weekday"] == 0

    friday = await schedule(db, clock, _settings(report_digest=True, report_digest_weekday=4,
                                                  report_digest_hour=17), policy)  # fmt: skip
    assert friday == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)  # tomorrow 17:00 Shanghai
    assert [t.due_at for t in await _live(db)] == [friday]

    assert await schedule(db, clock, _settings(), policy) is None
    assert await _live(db) == []
