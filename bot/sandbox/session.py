"""One sandbox session: emulator + demo shop + the real bot, driven one typed line at a time.

`send_line()` does what a line asks (a message, a button press, a sandbox command), waits until
the bot has finished reacting and returns what a person would see. The terminal loop
(bot/sandbox/terminal.py) and the tests drive the same object.

The person is the demo customer, or, after `:agents`, Agent Zhang in the agents' forum group:
then what they type goes into the open topic (or General) as the agent, and a number presses
a button of that topic's card.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.app import Runtime, build, run_polling
from bot.emulator import Emulator, EmulatorServer, SentMessage, SimUser
from bot.sandbox.agents import GENERAL, AgentsGroup, plural
from bot.sandbox.info import (
    AGENT_NAME,
    AGENT_ROLE,
    AGENTS_TITLE,
    GENERAL_HINT,
    HELP,
    PERSONAS,
    TOPIC_HINT,
    SandboxConfig,
    banner,
    demo_digest,
)
from bot.sandbox.pane import Pane
from bot.sandbox.samples import photos
from bot.sandbox.view import Button, Style, toast
from bot.settings import Settings
from dialogs.agents.handler import NOTE_PREFIX
from storage import migrate
from storage.demo import load_demo
from storage.models import Case, Inbox, Outbox

log = logging.getLogger(__name__)
TOKEN = "123456789:" + "SANDBOX" * 5  # well-formed (35 characters after the colon), fake
AGENTS_CHAT_ID = -1_001_000_000_001
AGENT_ID = 7_000_000_100
START_TIMEOUT = 30.0
MAX_BUTTON_DIGITS = 2  # "1".."99" press buttons; longer numbers (phone digits) are text
ID_MARGIN = 100  # message ids kept free after the last stored one (see _continue_ids)


class SandboxSession:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.persona = PERSONAS[config.language]
        self.style = Style(config.ansi)
        self.server = EmulatorServer(token=TOKEN)
        self.stopping = asyncio.Event()  # set by :quit, Ctrl-C (run_polling's handler) or close()
        self.finished = False
        self.customer = Pane(self.style, lambda: self.emu.sent_messages(self.user.id))
        self.agent_mode = False
        # In agent mode: the open topic's thread id, GENERAL, or None at the list of topics.
        self.thread: int | None = None
        self._told: set[tuple[int, int]] = set()  # messages a 📣 line has counted already
        self._hinted: set[bool] = set()  # the places (General or not) explained once
        self._runtime: Runtime | None = None
        self._task: asyncio.Task[None] | None = None
        self._user: SimUser | None = None
        self._group: AgentsGroup | None = None
        self._commands: dict[str, Callable[[str], Awaitable[list[str]]]] = {
            "contact": self._contact,
            "photo": self._photo,
            "album": self._album,
            "say": self._say,
            "lang": self._lang,
            "agents": self._show_agents,
            "topic": self._topic,
            "general": self._general,
            "customer": self._be_customer,
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
    def group(self) -> AgentsGroup:
        assert self._group is not None, "start() first"
        return self._group

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
        agent = self.emu.create_user(id=AGENT_ID, first_name=AGENT_NAME, language_code="zh")
        chat = self.emu.create_group(AGENTS_TITLE, id=AGENTS_CHAT_ID, is_forum=True, owner=agent)
        self._group = AgentsGroup(self.emu, chat, agent, self.style)
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
        # The agents speak the shop's DEFAULT_LOCALE; unless it is set, the sandbox's language,
        # so that `--language en` is English on both sides.
        chosen = any(name.upper() == "DEFAULT_LOCALE" for name in os.environ)
        locale = {} if chosen else {"default_locale": self.config.language}
        return Settings(
            **locale,
            bot_token=TOKEN,
            telegram_api_base=self.server.base_url,
            database_url=self.database_url,
            evidence_dir=self.config.evidence_dir,
            agent_chat_id=AGENTS_CHAT_ID,
            agent_ids=[AGENT_ID],
            supervisor_ids=[AGENT_ID],  # so a complaint can be resolved in the demo too
            link_secret=secrets.token_urlsafe(32),  # no deep link outlives a sandbox run
            _env_file=None,
        )

    async def _continue_ids(self) -> None:
        """With a kept database, carry on after the ids the last run used.

        A new emulator starts from its first ids. Telegram never reuses a chat's message ids,
        and an update with a stored update_id *and* a stored message id is a redelivery to the
        bot, so both are carried on. In the agents' group a topic's id is a message id too: a
        new topic must not take the id an old case's topic had, or the bot would take the new
        topic for the old case's (the old topics are made again when the bot next posts).
        """
        async with self.runtime.db.read() as session:
            last_update = await session.scalar(select(func.max(Inbox.update_id)))
            last_sent = await session.scalar(
                select(func.max(Outbox.telegram_message_id)).where(Outbox.chat_id == self.user.id)
            )
            in_group = [
                await session.scalar(
                    select(func.max(Outbox.telegram_message_id)).where(
                        Outbox.chat_id == AGENTS_CHAT_ID
                    )
                ),
                await session.scalar(
                    select(func.max(Case.topic_id)).where(Case.agent_chat_id == AGENTS_CHAT_ID)
                ),
                await session.scalar(
                    select(func.max(Case.card_message_id)).where(
                        Case.agent_chat_id == AGENTS_CHAT_ID
                    )
                ),
            ]
        if last_update is not None:
            self.emu.continue_update_ids(last_update)
        # People's messages share a chat's sequence; a margin covers those sent after the
        # bot's last message, so an old id never names a new message.
        if last_sent is not None:
            chat = self.emu.chats[self.user.id]
            chat.next_message_id = max(chat.next_message_id, last_sent + ID_MARGIN)
        last_in_group = max((i for i in in_group if i is not None), default=None)
        if last_in_group is not None:
            group = self.group.chat
            group.next_message_id = max(group.next_message_id, last_in_group + ID_MARGIN)

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

    @property
    def prompt(self) -> str:
        """Who you are and where, shown before what you type."""
        if not self.agent_mode:
            return "[customer] > "
        where = "topics" if self.thread is None else self.group.place(self.thread)
        return f"[agent · {where}] > "

    @property
    def buttons(self) -> list[Button]:
        """The buttons a number presses now: the customer's, or the open topic's."""
        pane = self._pane()
        return pane.buttons if pane is not None else []

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
        if self._at_the_list():
            if _is_number(text):
                return await self._open(int(text))
            return [self._nowhere_to_write()]
        if _is_number(text) and self.buttons:
            return await self._press(int(text))
        who, where = self._speaker()
        lines = await self._act(self.emu.user_sends_text(who, text, **where))
        if lines or not self.agent_mode:
            return lines
        if self.thread == GENERAL and not text.startswith("/"):
            return [self.style.dim("(no answer: in General the bot answers commands, such as "
                                   "/queue, /mine and /help)")]  # fmt: skip
        if text.startswith(NOTE_PREFIX):
            return [self.style.dim("(a note: it stays in the topic; the customer got nothing)")]
        return lines

    def _at_the_list(self) -> bool:
        return self.agent_mode and self.thread is None

    def _speaker(self) -> tuple[SimUser, dict[str, Any]]:
        """Who writes what you type, and where: the customer in their chat, or the agent in
        the open topic (or General)."""
        if not self.agent_mode:
            return self.user, {}
        return self.group.agent, {"chat": self.group.chat, "thread_id": self.thread or None}

    def _nowhere_to_write(self) -> str:
        count = len(self.group.topics())
        if not count:
            return (
                "No case has reached the agents yet, so there is no topic to write in. "
                "Be the customer (:customer) and ask for a person (/human), "
                "or write in the group's General chat (:general)."
            )
        which = "type 1 to open the topic" if count == 1 else f"type 1-{count} to open a topic"
        return (
            f"You are looking at the list of topics: {which}, :general writes in General, "
            ":customer makes you the customer again."
        )

    async def _press(self, number: int) -> list[str]:
        buttons = self.buttons
        if not 1 <= number <= len(buttons):
            return [
                f"There is no button {number}; the buttons are 1-{len(buttons)}. "
                f"(:say {number} sends it as text.)"
            ]
        button = buttons[number - 1]
        who, _ = self._speaker()
        # strict=False: a button of an edited message still reaches the bot, as on Telegram
        update = await self.emu.user_clicks(who, button.message, button.callback_data, strict=False)
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

    async def _settle(self, with_group: bool | None = None) -> bool:
        """Wait until the bot took every update and sent everything it queued for the
        customer's chat, and for the agents' group too when you are the agent."""
        group = self.agent_mode if with_group is None else with_group
        chats = (self.user.id, AGENTS_CHAT_ID) if group else (self.user.id,)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.reply_timeout
        quiet = 0
        while loop.time() < deadline and not self.bot_stopped and not self.stopping.is_set():
            quiet = quiet + 1 if await self._idle(chats) else 0
            if quiet >= 2:  # twice in a row: nothing was in flight between two looks
                return True
            await self.emu.wait_change(0.05)
        return False

    async def _idle(self, chats: tuple[int, ...]) -> bool:
        if len(self.emu.updates) or self.runtime.processor.in_hand:
            return False
        async with self.runtime.db.read() as session:
            pending = await session.scalar(
                select(func.count())
                .select_from(Outbox)
                .where(Outbox.chat_id.in_(chats), Outbox.status.in_(("pending", "sending")))
            )
        return not pending

    # --- what the person sees -----------------------------------------------------------------

    def collect(self) -> list[str]:
        """New and edited bot messages where you are (your chat as the customer, the open
        topic as the agent) since the last look, and a 📣 line for news elsewhere."""
        pane = self._pane()
        return [*(pane.collect() if pane is not None else []), *self._notes()]

    def _pane(self) -> Pane | None:
        if not self.agent_mode:
            return self.customer
        return self.group.pane(self.thread) if self.thread is not None else None

    def _notes(self) -> list[str]:
        lines: list[str] = []
        if self.agent_mode:
            count = self._untold(self.user.id, self.customer.has_seen)
            if count:
                got = f"📣 The customer got {plural(count, 'message')}"
                it = "it" if count == 1 else "them"
                lines.append(self.style.dim(f"{got} (:customer shows {it})."))
        count = self._untold(AGENTS_CHAT_ID, self.group.seen)
        if count:
            posted = f"📣 The bot posted {plural(count, 'message')} in the agents' group"
            if not self.agent_mode:
                note = f"{posted} (:agents to look as the agent)."
            elif self.thread is None:
                note = f"{posted} (:agents lists the topics again)."
            else:
                elsewhere = f"📣 {plural(count, 'new message')} elsewhere in the agents' group"
                note = f"{elsewhere} (:agents lists the topics)."
            lines.append(self.style.dim(note))
        return lines

    def _untold(self, chat: int, seen: Callable[[SentMessage], bool]) -> int:
        """How many of the chat's bot messages were neither shown nor counted yet; now they
        are counted."""
        fresh = {
            (m.chat_id, m.message_id)
            for m in self.emu.sent_messages(chat, include_deleted=False)
            if not seen(m)
        } - self._told
        self._told |= fresh
        return len(fresh)

    # --- being the agent ----------------------------------------------------------------------

    async def _show_agents(self, arg: str) -> list[str]:
        if arg:
            return await self._topic(arg)
        self.agent_mode, self.thread = True, None
        await self._settle()
        lines = self.group.listing(AGENT_ROLE)
        self._told |= {(m.chat_id, m.message_id) for m in self.emu.sent_messages(AGENTS_CHAT_ID)}
        return [*lines, *self._notes()]

    async def _topic(self, arg: str) -> list[str]:
        if not arg:
            return await self._show_agents("")
        if not arg.isdigit():
            return ["Usage: :topic N, where N is a topic's number in the list :agents prints."]
        return await self._open(int(arg))

    async def _open(self, number: int) -> list[str]:
        await self._settle(with_group=True)  # a topic being made is there before the look-up
        topics = self.group.topics()
        if not 1 <= number <= len(topics):
            if not topics:
                none = f"There is no topic {number}: no case has reached the agents yet"
                return [f"{none} (as the customer, /human asks for a person)."]
            count = len(topics)
            which = "there is only topic 1" if count == 1 else f"the topics are 1-{count}"
            return [f"There is no topic {number}; {which} (:agents lists them)."]
        return self._enter(topics[number - 1].message_thread_id)

    async def _general(self, _arg: str) -> list[str]:
        await self._settle(with_group=True)
        return self._enter(GENERAL)

    def _enter(self, thread: int) -> list[str]:
        self.agent_mode, self.thread = True, thread
        pane = self.group.pane(thread)
        first = not pane.looked
        pane.reopen()
        lines = pane.collect()
        if not lines:
            empty = "(no messages here yet)" if first else "(nothing new since you last looked)"
            lines = [self.style.dim(empty)]
        general = thread == GENERAL
        hint: list[str] = []
        if general not in self._hinted:
            self._hinted.add(general)
            hint = [self.style.dim(GENERAL_HINT if general else TOPIC_HINT)]
        return [self.group.header(thread), *hint, *lines, *self._notes()]

    async def _be_customer(self, _arg: str) -> list[str]:
        was_agent = self.agent_mode
        self.agent_mode, self.thread = False, None
        await self._settle()
        self.customer.reopen()
        lines = self.customer.collect()
        if not was_agent:
            head = f"You are {self.persona.name}, the customer, already."
        else:
            head = f"You are {self.persona.name}, the customer, again."
            lines = lines or [self.style.dim("(nothing new in your chat)")]
        return [head, *lines, *self._notes()]

    # --- sandbox commands ---------------------------------------------------------------------

    async def _contact(self, arg: str) -> list[str]:
        if self.agent_mode:
            return ["Only the customer shares a contact: :customer first."]
        phone = arg or self.persona.phone
        return await self._act(self.emu.user_sends_contact(self.user, phone))

    async def _photo(self, arg: str) -> list[str]:
        if self._at_the_list():
            return [self._nowhere_to_write()]
        data = await asyncio.to_thread(_read_file, arg) if arg else photos(1)[0]
        if data is None:
            return [f"No such file: {arg}"]
        who, where = self._speaker()
        return await self._act(self.emu.user_sends_photo(who, data, **where))

    async def _album(self, arg: str) -> list[str]:
        if self._at_the_list():
            return [self._nowhere_to_write()]
        count = int(arg) if arg.isdigit() else 3
        if not 2 <= count <= 10:
            return ["An album has 2 to 10 photos, e.g. :album 3"]
        who, where = self._speaker()
        return await self._act(self.emu.user_sends_album(who, photos(count), **where))

    async def _say(self, arg: str) -> list[str]:
        if not arg:
            return ["Usage: :say TEXT"]
        if self._at_the_list():
            return [self._nowhere_to_write()]
        who, where = self._speaker()
        return await self._act(self.emu.user_sends_text(who, arg, **where))

    async def _lang(self, arg: str) -> list[str]:
        if arg not in ("zh", "en"):
            return [f"Usage: :lang zh|en (your Telegram app speaks '{self.user.language_code}')"]
        self.user.language_code = arg
        return [
            f"Your Telegram app now speaks '{arg}'; the bot sees it with your next message. "
            "To switch the bot's own language, type /lang."
        ]

    async def _me(self, _arg: str) -> list[str]:
        user = self.user
        agent = self.group.agent
        return [
            f"You are {self.persona.name}, Telegram user {user.id}, app language "
            f"'{user.language_code}'. :contact shares {self.persona.phone}.",
            f"As the agent (:agents) you are {agent.first_name}, Telegram user {agent.id}, "
            f"{AGENT_ROLE} in {AGENTS_TITLE!r}.",
            "Demo customers (:contact PHONE to be identified as one, or type an order number "
            "and then its phone's last 4 digits):",
            *await demo_digest(self.runtime.db, datetime.now(UTC)),
        ]

    async def _help(self, _arg: str) -> list[str]:
        return HELP.splitlines()

    async def _quit(self, _arg: str) -> list[str]:
        self.finished = True
        return []


def _is_number(text: str) -> bool:
    """A button's (or topic's) number; longer numbers, such as phone digits, are text."""
    return text.isdigit() and len(text) <= MAX_BUTTON_DIGITS


def _remove_database(database: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)


def _read_file(name: str) -> bytes | None:
    path = Path(name).expanduser()
    return path.read_bytes() if path.is_file() else None
