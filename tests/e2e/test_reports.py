"""/report in the agents' group and the weekly digest, through the real bot and the emulator:
the chart arrives as an uploaded photo with the key figures, for agents and supervisors only."""

from __future__ import annotations

import asyncio
import struct
from datetime import UTC, datetime, timedelta

import pytest

from dialogs.clock import ShiftedClock
from storage import migrate
from storage.models import Timer
from tests.e2e.desk import DESK_SETTINGS, Desk, make_desk
from tests.e2e.harness import running_bot, seed_demo
from tests.e2e.test_agents import ALICE, alice_at_menu, escalated, macbook_return, rows


@pytest.fixture
async def shop_url(database_url: str) -> str:
    await asyncio.to_thread(migrate.upgrade, database_url)
    await seed_demo(database_url)
    return database_url


def photos(desk: Desk) -> list:
    return [m for m in desk.messages() if m.media_kind == "photo" and m.thread_id is None]


def png_size(emu, message) -> tuple[int, int]:
    data = emu.file(message.message["photo"][-1]["file_id"]).data
    assert data[:8] == b"\x89PNG\r\n\x1a\n"  # the chart itself was uploaded
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def digest_timers(url: str, count: int = 1) -> list:
    """The digest timers, once there are `count` (the start sets the first after polling)."""
    for _ in range(100):
        found = [t for t in await rows(url, Timer) if t.kind == "report_digest"]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"{count} digest timers expected, found {len(found)}")


async def test_an_agent_gets_the_chart_and_the_figures_a_customer_gets_nothing(
    emulator, shop_url, tmp_path
):
    async with running_bot(emulator, shop_url, tmp_path, **DESK_SETTINGS) as bot:
        desk = make_desk(bot.emu)
        alice = await alice_at_menu(bot.emu)
        await macbook_return(alice, shop_url)
        await escalated(desk)

        await desk.write(desk.lin, None, "/report")
        await desk.wait(lambda: len(photos(desk)) == 1, 20)
        [chart] = photos(desk)
        assert chart.method == "sendPhoto"
        assert "售后报表" in chart.text and "售后申请：1" in chart.text, chart.text
        assert "转人工：100.0%" in chart.text  # the MacBook went to a person
        for secret in (ALICE, ALICE[-4:], "Alice"):
            assert secret not in chart.text
        width, height = png_size(bot.emu, chart)
        assert width == 1080 and height > 1000

        await desk.write(desk.boss, None, "/report month")  # a supervisor may ask too
        await desk.wait(lambda: len(photos(desk)) == 2, 20)
        assert "售后申请：1" in photos(desk)[1].text

        before = len(desk.messages())
        await desk.write(desk.stranger, None, "/report")
        await desk.wait(lambda: len(desk.messages()) > before)
        assert len(photos(desk)) == 2
        assert "客服" in desk.messages()[-1].text  # told it is for agents only

        await desk.write(desk.lin, None, "/report year")
        await desk.wait(lambda: "/report week" in (desk.messages()[-1].text or ""))
        assert len(photos(desk)) == 2

        seen = len(alice.messages())
        await alice.say("/report")  # in the private chat: not a command for customers
        assert all(m.media_kind != "photo" for m in alice.messages()[seen:])
        assert len(photos(desk)) == 2


async def test_the_weekly_digest_is_posted_once_on_monday_morning(emulator, shop_url, tmp_path):
    clock = ShiftedClock()
    settings = {**DESK_SETTINGS, "report_digest": True}
    async with running_bot(emulator, shop_url, tmp_path, clock=clock, **settings) as bot:
        desk = make_desk(bot.emu)
        [timer] = await digest_timers(shop_url)
        local = timer.due_at.astimezone(bot.runtime.texts.tz)
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)  # Monday 9:00
        clock.advance(timer.due_at - datetime.now(UTC) + timedelta(minutes=1))
        bot.runtime.timers.wake()
        await desk.wait(lambda: len(photos(desk)) == 1, 20)
        assert "售后周报" in photos(desk)[0].text
        await asyncio.sleep(1.0)
        assert len(photos(desk)) == 1  # once
        digests = await digest_timers(shop_url, 2)
        assert [t.fired_at is not None for t in digests] == [True, False]
        assert digests[1].due_at - digests[0].due_at == timedelta(days=7)  # next Monday
