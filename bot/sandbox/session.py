"""One sandbox session: emulator + demo shop + the real bot, driven one typed line at a time.

`send_line()` does what a line asks (a message, a button press, a sandbox command), waits until
the bot has finished reacting and returns what a person would see. The terminal loop in
`bot/sandbox.py` and the tests drive the same object.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.app import Runtime, build, run_polling
from bot.emulator import Emulator, EmulatorServer, SentMessage, SimChat, SimUser
from bot.sandbox.info import (
    AGENTS_TITLE,
    HELP,
    PERSONAS,
    SandboxConfig,
    banner,
    demo_digest,
)
from bot.sandbox.samples import photos
from bot.sandbox.view import BOT, INDENT, Button, Style, pressable, render_message, toast
from bot.settings import Settings
from storage import migrate
from storage.demo import load_demo
from storage.models import Inbox, Outbox

log = logging.getLogger(__name__)
TOKEN = "123456789:" + "SANDBOX" * 5  # well-formed (35 characters after the colon), fake
AGENTS_CHAT_ID = -1_001_000_000_001
AGENT_ID = 7_000_000_100
START_TIMEOUT = 30.0
MAX_BUTTON_DIGITS = 2  # "1".."99" press buttons; longer numbers (phone digits) are text


class SandboxSession:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.persona = PERSONAS[config.language]
        self.style = Style(config.ansi)
        self.server = EmulatorServer(token=TOKEN)
        self.stopping = asyncio.Event()  # set by :quit, Ctrl-C (run_polling's handler) or close()
        self.finished = False
        self.buttons: list[Button] = []
        self._seen: dict[int, tuple[Any, ...]] = {}
        self._numbered: int | None = None
        self._agent_messages = 0
        self._runtime: Runtime | None = None
        self._task: asyncio.Task[None] | None = None
        self._user: SimUser | None = None
        self._agents: SimChat | None = None
        self._commands: dict[str, Callable[[str], Awaitable[list[str]]]] = {
            "contact": self._contact,
            "photo": self._photo,
            "album": self._album,
            "say": self._say,
            "lang": self._lang,
            "agents": self._show_agents,
            "me": self._me,
            "help": self._help,
            "quit": self._quit,
            "exit": self._quit,
        }

    @property
    def emu(self) -> Emulator:
        return self.server.emulator

    @property
    def user(self) -> SimUser:
        assert self._user is not None, "start() first"
        return self._user

    @property
    def runtime(self) -> Runtime:
        assert self._runtime is not None, "start() first"
        return self._runtime

    @property
    def database_url(self) -> str:
        return f"sqlite+aiosqlite:///{self.config.database}"

    # --- life cycle ---------------------------------------------------------------------------

    def banner(self) -> list[str]:
        return banner(self.config)

    async def start(self) -> None:
        if self.config.fresh:
            _remove_database(self.config.database)
        await self.server.start()
        agent = self.emu.create_user(id=AGENT_ID, first_name="Agent Zhang", language_code="zh")
        self._agents = self.emu.create_group(
            AGENTS_TITLE, id=AGENTS_CHAT_ID, is_forum=True, owner=agent
        )
        self._user = self.emu.create_user(
            id=self.persona.telegram_id,
            first_name=self.persona.name,
            language_code=self.persona.language,
        )
        self._runtime = build(self._settings())
        await asyncio.to_thread(migrate.upgrade, self.database_url)
        await load_demo(self.runtime.db, datetime.now(UTC))
        await self._continue_ids()
        task = asyncio.create_task(run_polling(self.runtime, until=self.stopping))
        self._task = task

        def polling_or_stopped() -> bool:
            return task.done() or bool(self.emu.calls_to("getUpdates"))

        await self.emu.wait_until(polling_or_stopped, START_TIMEOUT)
        if task.done():
            await task  # raises what stopped the bot
            if not self.stopping.is_set():  # Ctrl-C during start-up is no failure
                raise RuntimeError("the bot stopped during start-up")

    def _settings(self) -> Settings:
        return Settings(
            bot_token=TOKEN,
            telegram_api_base=self.server.base_url,
            database_url=self.database_url,
            evidence_dir=self.config.evidence_dir,
            agent_chat_id=AGENTS_CHAT_ID,
            agent_ids=[AGENT_ID],
            link_secret=secrets.token_urlsafe(32),  # no deep link outlives a sandbox run
            _env_file=None,
        )

    async def _continue_ids(self) -> None:
        """With a kept database, carry on after the ids the last run used.

        A new emulator starts from its first ids. Telegram never reuses a chat's message ids,
        and an update with a stored update_id *and* a stored message id is a redelivery to the
        bot, so both are carried on.
        """
        async with self.runtime.db.read() as session:
            last_update = await session.scalar(select(func.max(Inbox.update_id)))
            last_sent = await session.scalar(
                select(func.max(Outbox.telegram_message_id)).where(Outbox.chat_id == self.user.id)
            )
        if last_update is not None:
            self.emu.continue_update_ids(last_update)
        if last_sent is not None:
            # The customer's messages share the chat's sequence; a margin covers those sent
            # after the bot's last message, so an old id never names a new message.
            chat = self.emu.chats[self.user.id]
            chat.next_message_id = max(chat.next_message_id, last_sent + 100)

    async def close(self) -> list[str]:
        """Stop the bot (it finishes what it has in hand), then the emulator; report bugs."""
        self.stopping.set()
        lines: list[str] = []
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, START_TIMEOUT)
            except Exception as exc:
                log.exception("the bot did not stop cleanly")
                lines.append(f"The bot did not stop cleanly: {exc!r} (see the log)")
        elif self._runtime is not None:  # start() failed before the bot ran: nothing closed it
            await self._runtime.bot.session.close()
            await self._runtime.db.dispose()
        await self.server.stop()
        errors = self.emu.validation_errors
        if errors:
            lines.append(
                f"The emulator refused {len(errors)} malformed request(s); these are bugs:"
            )
            lines.extend(f"  {e.method}: {e.description}" for e in errors)
        return lines

    @property
    def bot_stopped(self) -> bool:
        return self._task is not None and self._task.done()

    # --- one line -----------------------------------------------------------------------------

    async def send_line(self, line: str) -> list[str]:
        """Do what the person typed; the lines they see next."""
        text = line.strip()
        if not text:
            return []
        if text.startswith(":"):
            name, _, arg = text[1:].partition(" ")
            command = self._commands.get(name.lower())
            if command is None:
                return [f"Unknown sandbox command {text.split()[0]!r}; :help lists them."]
            return await command(arg.strip())
        if text.isdigit() and len(text) <= MAX_BUTTON_DIGITS and self.buttons:
            return await self._press(int(text))
        return await self._act(self.emu.user_sends_text(self.user, text))

    async def _press(self, number: int) -> list[str]:
        if not 1 <= number <= len(self.buttons):
            return [
                f"There is no button {number}; the buttons are 1-{len(self.buttons)}. "
                f"(:say {number} sends it as text.)"
            ]
        button = self.buttons[number - 1]
        # strict=False: a button of an edited message still reaches the bot, as on Telegram
        update = await self.emu.user_clicks(
            self.user, button.message, button.callback_data, strict=False
        )
        shown = [self.style.dim(f"(pressed {button.label})")]
        lines = await self._act(None)
        record = self.emu.callbacks.get(update["callback_query"]["id"])
        answer = toast(record.answer if record else None)
        return [*shown, *([answer] if answer else []), *lines]

    async def _act(self, action: Awaitable[Any] | None) -> list[str]:
        if action is not None:
            await action
        if not await self._settle():
            return [*self.collect(), self.style.dim("(the bot has not finished answering yet; "
                                                    "more may appear later)")]  # fmt: skip
        return self.collect()

    async def _settle(self) -> bool:
        """Wait until the bot took every update and sent everything it queued for this chat."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.reply_timeout
        quiet = 0
        while loop.time() < deadline and not self.bot_stopped and not self.stopping.is_set():
            quiet = quiet + 1 if await self._idle() else 0
            if quiet >= 2:  # twice in a row: nothing was in flight between two looks
                return True
            await self.emu.wait_change(0.05)
        return False

    async def _idle(self) -> bool:
        if len(self.emu.updates) or self.runtime.processor.in_hand:
            return False
        async with self.runtime.db.read() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(Outbox)
                .where(Outbox.chat_id == self.user.id, Outbox.status.in_(("pending", "sending")))
            )
        return not pending

    # --- what the person sees -----------------------------------------------------------------

    def collect(self) -> list[str]:
        """New and edited bot messages since the last look (and a note about the agents)."""
        messages = self.emu.sent_messages(self.user.id)
        latest = next((m for m in reversed(messages) if not m.deleted and pressable(m)), None)
        self.buttons = pressable(latest) if latest else []
        lines: list[str] = []
        shown_latest = False
        for message in messages:
            shown = self._changes(message, latest)
            shown_latest = shown_latest or (bool(shown) and message is latest)
            lines.extend(shown)
        latest_id = latest.message_id if latest else None
        if latest is not None and latest_id != self._numbered and not shown_latest:
            lines.append(self.style.dim(INDENT + "buttons to press now (an earlier message's):"))
            lines.extend(render_message(latest, self.style, numbered=self.buttons)[1:])
        self._numbered = latest_id
        return lines + self._agents_note()

    def _changes(self, message: SentMessage, latest: SentMessage | None) -> list[str]:
        markup = json.dumps(message.reply_markup, sort_keys=True)
        key = (len(message.history), message.text, markup, message.deleted)
        old = self._seen.get(message.message_id)
        self._seen[message.message_id] = key
        numbered = self.buttons if message is latest else None
        if old == key or (old is None and message.deleted):
            return []
        if old is None:
            return render_message(message, self.style, numbered=numbered)
        if message.deleted:
            first = (message.text or "").splitlines()[:1]
            return [BOT + self.style.dim(f"(deleted: {first[0] if first else 'a message'})")]
        if message.text == old[1] and not pressable(message):
            return []  # only its buttons went away after a press: nothing new to read
        return render_message(message, self.style, edited=True, numbered=numbered)

    def _agents_note(self) -> list[str]:
        count = len(self.emu.sent_messages(AGENTS_CHAT_ID))
        new, self._agent_messages = count - self._agent_messages, count
        if new <= 0:
            return []
        return [self.style.dim(f"📣 The bot posted {new} message(s) in the agents' group "
                               "(:agents shows them).")]  # fmt: skip

    # --- sandbox commands ---------------------------------------------------------------------

    async def _contact(self, arg: str) -> list[str]:
        phone = arg or self.persona.phone
        return await self._act(self.emu.user_sends_contact(self.user, phone))

    async def _photo(self, arg: str) -> list[str]:
        data = await asyncio.to_thread(_read_file, arg) if arg else photos(1)[0]
        if data is None:
            return [f"No such file: {arg}"]
        return await self._act(self.emu.user_sends_photo(self.user, data))

    async def _album(self, arg: str) -> list[str]:
        count = int(arg) if arg.isdigit() else 3
        if not 2 <= count <= 10:
            return ["An album has 2 to 10 photos, e.g. :album 3"]
        return await self._act(self.emu.user_sends_album(self.user, photos(count)))

    async def _say(self, arg: str) -> list[str]:
        if not arg:
            return ["Usage: :say TEXT"]
        return await self._act(self.emu.user_sends_text(self.user, arg))

    async def _lang(self, arg: str) -> list[str]:
        if arg not in ("zh", "en"):
            return [f"Usage: :lang zh|en (your Telegram app speaks '{self.user.language_code}')"]
        self.user.language_code = arg
        return [
            f"Your Telegram app now speaks '{arg}'; the bot sees it with your next message. "
            "To switch the bot's own language, type /lang."
        ]

    async def _show_agents(self, _arg: str) -> list[str]:
        assert self._agents is not None
        messages = self.emu.sent_messages(AGENTS_CHAT_ID)
        self._agent_messages = len(messages)
        lines = [f"Agents' group {AGENTS_TITLE!r} (a forum supergroup):"]
        if not messages:
            return [*lines, "  (the bot has posted nothing here yet)"]
        for thread in dict.fromkeys(m.thread_id for m in messages):
            topic = self._agents.topics.get(thread) if thread is not None else None
            lines.append(f"# {topic.name if topic else 'General'}")
            for message in (m for m in messages if m.thread_id == thread and not m.deleted):
                lines.extend(render_message(message, self.style))
        return lines

    async def _me(self, _arg: str) -> list[str]:
        user = self.user
        return [
            f"You are {self.persona.name}, Telegram user {user.id}, app language "
            f"'{user.language_code}'. :contact shares {self.persona.phone}.",
            "Demo customers (:contact PHONE to be identified as one, or type an order number "
            "and then its phone's last 4 digits):",
            *await demo_digest(self.runtime.db, datetime.now(UTC)),
        ]

    async def _help(self, _arg: str) -> list[str]:
        return HELP.splitlines()

    async def _quit(self, _arg: str) -> list[str]:
        self.finished = True
        return []


def _remove_database(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def _read_file(name: str) -> bytes | None:
    path = Path(name).expanduser()
    return path.read_bytes() if path.is_file() else None
