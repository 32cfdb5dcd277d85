"""The real bot (aiogram, runtime, outbox) against the local Bot API emulator over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select

from bot.app import Runtime, build, run_polling, run_webhook
from bot.emulator.server import EmulatorServer
from bot.emulator.state import SentMessage, SimUser
from bot.ratelimit import Limits, Rate, RateLimiter
from bot.settings import Settings
from dialogs.clock import Clock, SystemClock
from storage.db import Database
from storage.demo import load_demo
from storage.models import Customer as CustomerRow
from storage.models import Order

TOKEN = "123456789:" + "A" * 35
WEBHOOK_SECRET = "hook-secret-" + "x" * 24  # Telegram-legal and long enough for `run`
FAST = Rate(per_second=1000.0, burst=1000)
QUIET = 0.15  # seconds without a new message or edit: the bot has finished its turn


def settings_for(emulator: EmulatorServer, database_url: str, tmp: Path, **extra: Any) -> Settings:
    return Settings(
        bot_token=TOKEN,
        telegram_api_base=emulator.base_url,
        database_url=database_url,
        evidence_dir=tmp / "evidence",
        link_secret="test-link-secret",
        _env_file=None,
        **extra,
    )


@dataclass
class Running:
    runtime: Runtime
    emulator: EmulatorServer
    stop: asyncio.Event
    task: asyncio.Task[None]

    @property
    def emu(self) -> Any:
        return self.emulator.emulator

    async def shutdown(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, 30)


async def seed_demo(database_url: str) -> None:
    """The demo shop relative to the real clock: the bot runs on it (retries, rate limits)."""
    db = Database(database_url)
    try:
        await load_demo(db, datetime.now(UTC))
    finally:
        await db.dispose()


async def orders_of(url: str, phone: str) -> dict[str, str]:
    """A customer's order numbers by the name of each order's first item."""
    db = Database(url)
    try:
        async with db.read() as s:
            customer = await s.scalar(select(CustomerRow).where(CustomerRow.phone == phone))
            assert customer is not None
            rows = await s.scalars(select(Order).where(Order.customer_id == customer.id))
            return {o.items[0].name: o.order_no for o in rows.all()}
    finally:
        await db.dispose()


@contextlib.asynccontextmanager
async def running_bot(
    emulator: EmulatorServer,
    database_url: str,
    tmp: Path,
    *,
    webhook: bool = False,
    clock: Clock | None = None,
    poll_timeout: int = 25,
    **extra: Any,
) -> AsyncIterator[Running]:
    stop = asyncio.Event()
    if webhook:
        extra.setdefault("webhook_url", f"http://127.0.0.1:{_free_port()}/tg/hook")
        extra.setdefault("webhook_secret", WEBHOOK_SECRET)
    settings = settings_for(emulator, database_url, tmp, **extra)
    runtime = build(settings, clock=clock or SystemClock())
    # Telegram's per-chat pace (1 message/s) would only slow the tests down; the limiter has
    # tests of its own, and the emulator checks the rates when a test asks it to.
    runtime.outbox.limiter = RateLimiter(Limits(private=FAST, group=FAST, overall=FAST))
    if webhook:
        port = urlparse(settings.webhook_url).port or 80
        task = asyncio.create_task(run_webhook(runtime, host="127.0.0.1", port=port, until=stop))
    else:
        task = asyncio.create_task(run_polling(runtime, until=stop, poll_timeout=poll_timeout))
    running = Running(runtime, emulator, stop, task)
    await running.emu.wait_until(lambda: bool(running.emu.calls_to("setMyCommands")), 10)
    try:
        yield running
    finally:
        if not task.done():
            await running.shutdown()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Customer:
    """A simulated Telegram user talking to the bot through the emulator."""

    def __init__(self, emu: Any, user: SimUser) -> None:
        self.emu = emu
        self.user = user

    def messages(self) -> list[SentMessage]:
        return self.emu.sent_messages(self.user.id, include_deleted=False)

    @property
    def last(self) -> SentMessage:
        return self.messages()[-1]

    async def _after(self, action: Any, expect: int = 1, seconds: float = 10) -> None:
        """Do something, then wait until the bot has reacted (a new message or an edit)."""
        before = self._snapshot()
        await action
        await self.emu.wait_until(lambda: self._changes(before) >= expect, seconds)
        # A turn may say more than `expect` things: let the bot finish before the next step.
        settled = self._snapshot()
        with contextlib.suppress(TimeoutError):
            await self.emu.wait_until(lambda: self._snapshot() != settled, QUIET)
            await self._settle()

    async def _settle(self) -> None:
        while True:
            settled = self._snapshot()
            try:
                await self.emu.wait_until(lambda s=settled: self._snapshot() != s, QUIET)
            except TimeoutError:
                return

    def _snapshot(self) -> dict[int, int]:
        return {m.message_id: len(m.history) for m in self.emu.sent_messages(self.user.id)}

    def _changes(self, before: dict[int, int]) -> int:
        now = self._snapshot()
        new = len(set(now) - set(before))
        edited = sum(1 for k, v in now.items() if k in before and v > before[k])
        return new + edited

    async def say(self, text: str, expect: int = 1, seconds: float = 10) -> None:
        await self._after(self.emu.user_sends_text(self.user, text), expect, seconds)

    async def share_contact(self, phone: str, user_id: int | None = None, expect: int = 1) -> None:
        await self._after(self.emu.user_sends_contact(self.user, phone, user_id=user_id), expect)

    async def tap(self, label: str, expect: int = 1, seconds: float = 10) -> None:
        for message in reversed(self.messages()):
            for button in message.buttons:
                if label in button.get("text", ""):
                    click = self.emu.user_clicks(self.user, message, button["callback_data"])
                    await self._after(click, expect, seconds)
                    return
        raise AssertionError(f"no button {label!r}; last: {self.last.text}")

    async def send_photo(self, data: bytes, expect: int = 1) -> None:
        await self._after(self.emu.user_sends_photo(self.user, data), expect)

    async def send_album(self, count: int, expect: int = 1) -> None:
        photos = [bytes([n]) * (2000 + n) for n in range(count)]
        await self._after(self.emu.user_sends_album(self.user, photos), expect)

    def has_button(self, label: str) -> bool:
        return any(label in b.get("text", "") for b in self.last.buttons)

    def texts(self) -> str:
        return "\n".join(m.text or "" for m in self.messages())
