"""The agents' group under Telegram's group limit (about 20 messages a minute per group, all
its topics together), through the real bot and the local emulator.

    .venv/bin/python -m bench.desk_bench [--speed 10] [--escalations 30] [--customers 12]
        [--interval 10] [--minutes 3]

1. **Escalations**: N customers ask for a person at the same moment; how long until each
   case's card is in its new topic (createForumTopic + the card: two of the group's messages).
2. **Relay**: M customers each send a message every `--interval` seconds into their cases'
   topics for `--minutes`; how long from a message to the topic — with queued texts joined
   into one message (what the bot does), with each text sent alone (what a naive relay does),
   and with the cases spread over two agents' groups (AGENT_CHAT_ID with two ids).

The emulator enforces Telegram's limits (a 429 with retry_after beyond them) and the bot keeps
to its own. `--speed` runs everything that many times faster — the limits, the customers'
pace and the durations alike — and reports the figures in real seconds; the bot's own
processing (milliseconds) is the only thing not scaled, so at speed 10 the figures are a
little optimistic for it, never for the limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import bot.topics
from bench.machine import describe
from bot.app import build, run_polling
from bot.emulator.ratelimit import RateLimiter as EmulatorLimits
from bot.emulator.server import EmulatorServer
from bot.settings import Settings
from storage import migrate
from storage.db import Database
from storage.demo import load_demo
from storage.models import Customer

TOKEN = "123456789:" + "B" * 35
GROUPS = (-1001000000001, -1001000000002)
AGENT = 7100
QUESTION = "能不能帮我在盒子上刻字？"  # nothing the FAQ knows: straight to a person


def _limits(speed: float) -> tuple[EmulatorLimits, dict[str, float]]:
    """The emulator's limits, and the bot's own as its settings (TELEGRAM_RATE_*)."""
    emulator = EmulatorLimits(
        enforce=True, group_per_minute=20 * speed, group_burst=20, private_per_second=speed,
        private_burst=5, global_per_second=30 * speed, global_burst=30,
    )  # fmt: skip
    own = {
        "telegram_rate_per_chat": 1.0 * speed,
        "telegram_rate_per_group": 20 / 60 * speed,
        "telegram_rate_overall": 25.0 * speed,
    }
    return emulator, own


@contextlib.asynccontextmanager
async def bot_running(tmp: Path, speed: float, groups: tuple[int, ...], customers: int
                      ) -> AsyncIterator[tuple[Any, list[Any], Any]]:  # fmt: skip
    """The emulator, the real bot and `customers` identified customers; (emu, users, group)."""
    async with EmulatorServer(token=TOKEN) as server:
        emu = server.emulator
        emulator_limits, own = _limits(speed)
        emu.rate_limits = emulator_limits
        url = f"sqlite+aiosqlite:///{tmp / 'desk.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        db = Database(url)
        await load_demo(db, datetime.now(UTC))
        users = [emu.create_user(first_name=f"C{n}", language_code="zh") for n in range(customers)]
        async with db.transaction() as s:
            s.add_all(Customer(phone=f"+86139{n:08d}", name=f"顾客{n}", language="zh",
                               telegram_user_id=u.id) for n, u in enumerate(users))  # fmt: skip
        await db.dispose()
        agent = emu.create_user(AGENT, first_name="Lin", language_code="zh")
        chats = [emu.create_group(f"Agents {n}", id=g, members=[agent]) for n, g in
                 enumerate(groups)]  # fmt: skip
        settings = Settings(
            bot_token=TOKEN, telegram_api_base=server.base_url, database_url=url,
            evidence_dir=tmp / "evidence", link_secret="bench-link-secret-xyz",
            agent_chat_ids=list(groups), agent_ids=[AGENT], _env_file=None, **own,
        )  # fmt: skip
        runtime = build(settings)
        stop = asyncio.Event()
        task = asyncio.create_task(run_polling(runtime, until=stop, poll_timeout=1))
        await emu.wait_until(lambda: bool(emu.calls_to("getUpdates")), 30)
        try:
            yield emu, users, chats
        finally:
            stop.set()
            await asyncio.wait_for(task, 60)


def _group_sends(emu: Any, groups: tuple[int, ...]) -> list[Any]:
    calls = [c for m in ("sendMessage", "copyMessage", "sendMediaGroup", "sendPhoto")
             for c in emu.calls_to(m)]  # fmt: skip
    return [c for c in calls if int(c.params.get("chat_id", 0)) in groups and c.ok]


def _cards(emu: Any, chats: list[Any]) -> int:
    return sum(bool(m.buttons) for chat in chats for m in emu.sent_messages(chat.id))


async def escalations(tmp: Path, speed: float, count: int) -> dict[str, float]:
    async with bot_running(tmp, speed, GROUPS[:1], count) as (emu, users, chats):
        for user in users:
            await emu.user_sends_text(user, "/human")

        def asked(user: Any) -> bool:
            return any("一句话" in (m.text or "") for m in emu.sent_messages(user.id))

        await emu.wait_until(lambda: all(asked(u) for u in users), 120)
        started = time.time()
        for user in users:
            await emu.user_sends_text(user, QUESTION)
        await emu.wait_until(lambda: _cards(emu, chats) == count, 3600 / speed + 120)
        group = chats[0].id
        cards = [c.at for c in emu.calls_to("sendMessage")
                 if int(c.params.get("chat_id", 0)) == group
                 and c.params.get("reply_markup")]  # fmt: skip
        waits = sorted((at - started) * speed for at in cards[:count])
        stats = emu.rate_limits.stats
        return {
            "cases": count, "first card s": waits[0], "median s": statistics.median(waits),
            "p90 s": waits[int(0.9 * (len(waits) - 1))], "last card s": waits[-1],
            "429s": stats.exceeded,
        }  # fmt: skip


async def relay(tmp: Path, speed: float, customers: int, interval: float, minutes: float,
                groups: tuple[int, ...], join: bool) -> dict[str, float]:  # fmt: skip
    bot.topics.JOINING = join
    async with bot_running(tmp, speed, groups, customers) as (emu, users, chats):
        for user in users:
            await emu.user_sends_text(user, "/human")
        await asyncio.sleep(1)
        for user in users:
            await emu.user_sends_text(user, QUESTION)
        await emu.wait_until(lambda: _cards(emu, chats) == customers, 3600 / speed + 120)
        await asyncio.sleep(2)
        sent: dict[str, float] = {}
        rounds = int(minutes * 60 / interval)
        step = interval / speed / customers  # the customers' messages spread over the interval
        for n in range(rounds):
            for c, user in enumerate(users):
                marker = f"m{c}-{n}"
                sent[marker] = time.time()
                await emu.user_sends_text(user, f"{marker} 请问进度如何")
                await asyncio.sleep(step)

        def arrived() -> dict[str, float]:
            seen: dict[str, float] = {}
            for call in _group_sends(emu, groups):
                text = str(call.params.get("text") or "")
                for marker in sent:
                    if marker not in seen and f"{marker} " in text:
                        seen[marker] = call.at
            return seen

        with contextlib.suppress(TimeoutError):
            await emu.wait_until(lambda: len(arrived()) == len(sent), 600 / speed + 60)
        seen = arrived()
        lat = sorted((seen[m] - sent[m]) * speed for m in seen)
        group_messages = len(_group_sends(emu, groups))
        return {
            "messages": len(sent), "arrived": len(seen), "p50 s": statistics.median(lat),
            "p90 s": lat[int(0.9 * (len(lat) - 1))], "max s": lat[-1],
            "group sends": group_messages, "429s": emu.rate_limits.stats.exceeded,
        }  # fmt: skip


def _print(title: str, row: dict[str, float]) -> None:
    shown = ", ".join(
        f"{k} {v:.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()
    )
    print(f"{title}: {shown}", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--speed", type=float, default=10.0)
    parser.add_argument("--escalations", type=int, default=30)
    parser.add_argument("--customers", type=int, default=12)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(describe(), flush=True)
    print(f"speed x{args.speed:g}: figures in real seconds (Telegram's 20 messages/min per group)")
    with tempfile.TemporaryDirectory() as tmp:
        _print(f"{args.escalations} escalations at once, one group",
               await escalations(Path(tmp) / "e", args.speed, args.escalations))  # fmt: skip
    variants = (("texts joined, one group", GROUPS[:1], True),
                ("each text alone, one group", GROUPS[:1], False),
                ("texts joined, two groups", GROUPS, True))  # fmt: skip
    for title, groups, join in variants:
        with tempfile.TemporaryDirectory() as tmp:
            result = await relay(Path(tmp), args.speed, args.customers, args.interval,
                                 args.minutes, groups, join)  # fmt: skip
            _print(f"relay, {args.customers} customers every {args.interval:g} s, {title}", result)


if __name__ == "__main__":
    asyncio.run(main())
