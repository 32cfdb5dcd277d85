"""The emulator's state and the helpers method handlers and the simulation API share."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.emulator.errors import ErrorRecord, state_error
from bot.emulator.faults import Faults
from bot.emulator.objects import ObjectFactory
from bot.emulator.ratelimit import RateLimiter
from bot.emulator.spec import Spec, load_spec
from bot.emulator.state import (
    CallbackRecord,
    CallRecord,
    FileRecord,
    SentMessage,
    SimChat,
    SimUser,
)
from bot.emulator.updates import UpdateQueue
from bot.emulator.validation import Validator
from bot.emulator.webhook import Webhook

Clock = Callable[[], float]

DEFAULT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
DEFAULT_BOT_USERNAME = "aftersales_demo_bot"

_SPEC_CACHE: dict[Path | None, Spec] = {}


def cached_spec(path: Path | None = None) -> Spec:
    """The spec is immutable, so every emulator in a process shares one parsed copy."""
    if path not in _SPEC_CACHE:
        _SPEC_CACHE[path] = load_spec(path)
    return _SPEC_CACHE[path]


class EmulatorCore:
    def __init__(
        self,
        *,
        spec_path: Path | None = None,
        clock: Clock = time.time,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_first_name: str = "After-sales demo",
        token: str = DEFAULT_TOKEN,
        callback_ttl: float = 15 * 60,
        check_results: bool = True,
        enforce_rate_limits: bool = False,
        first_update_id: int = 100_000_001,
    ) -> None:
        self.spec = cached_spec(spec_path)
        self.validator = Validator(self.spec)
        self.objects = ObjectFactory(self.spec)
        self.clock = clock
        self.bot_username = bot_username
        self.bot_first_name = bot_first_name
        self.bot_id = int(token.split(":", 1)[0])
        self.callback_ttl = callback_ttl
        self.check_results = check_results
        self.users: dict[int, SimUser] = {}
        self.chats: dict[int, SimChat] = {}
        self.chats_by_username: dict[str, SimChat] = {}
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        # any size's file_id -> the whole PhotoSize list, so a photo re-sent by id keeps sizes
        self.photo_sets: dict[str, list[dict[str, Any]]] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.default_menu_button: dict[str, Any] = {"type": "default"}
        self.updates = UpdateQueue()
        self.webhook = Webhook(self)
        self.faults = Faults()
        self.rate_limits = RateLimiter(enforce=enforce_rate_limits)
        self.calls: list[CallRecord] = []
        self.calls_by_method: dict[str, list[CallRecord]] = {}  # lower-cased method name
        self.validation_errors: list[ErrorRecord] = []
        self.api_errors: list[ErrorRecord] = []
        self.result_errors: list[ErrorRecord] = []
        self.unsupported_calls: list[str] = []
        self.updates_by_id: dict[int, dict[str, Any]] = {}
        self._change_waiters: list[asyncio.Future[None]] = []
        self._next_update_id = first_update_id
        self._ids = itertools.count(1)

    async def execute(
        self, method: str, params: dict[str, Any], files: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Run one Bot API call; implemented by the app layer (see dispatch.py)."""
        raise NotImplementedError

    def notify_change(self) -> None:
        """Wake `wait_until` callers after every answered call or queued update."""
        waiters, self._change_waiters = self._change_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def wait_change(self, seconds: float) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._change_waiters.append(waiter)
        try:
            await asyncio.wait_for(waiter, seconds)
        except TimeoutError:
            pass
        finally:
            if waiter in self._change_waiters:
                self._change_waiters.remove(waiter)

    # --- clock and ids ---------------------------------------------------------------------

    def now(self) -> int:
        return int(self.clock())

    def next_id(self) -> int:
        return next(self._ids)

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    # --- updates ----------------------------------------------------------------------------

    def continue_update_ids(self, after: int) -> None:
        """Make the next update id greater than `after` (a restart with a kept database:
        while updates keep flowing Telegram's ids only increase). Never moves ids back."""
        self._next_update_id = max(self._next_update_id, after + 1)

    def reset_update_ids(self, next_id: int) -> None:
        """Give the next update exactly `next_id`, even one at or below ids already handed
        out; ids increase from there. Telegram does this after a week without updates."""
        if next_id < 1:
            raise ValueError(f"update ids are positive, got {next_id}")
        self._next_update_id = next_id

    def enqueue(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": self._next_update_id, kind: payload}
        self._next_update_id += 1
        # after reset_update_ids an id can repeat: the newest update owns it
        self.updates_by_id[update["update_id"]] = update
        self.updates.put(update)
        self.webhook.notify()
        self.notify_change()
        return update

    # --- chats and messages -----------------------------------------------------------------

    def resolve_chat(self, chat_id: int | str) -> SimChat:
        """The chat a bot addresses; unknown or never-contacted chats are "chat not found"."""
        chat = (
            self.chats_by_username.get(chat_id.lstrip("@").lower())
            if isinstance(chat_id, str) and not chat_id.lstrip("-").isdigit()
            else self.chats.get(int(chat_id))
        )
        if chat is None or not chat.known:
            raise state_error("chat not found")
        return chat

    def ensure_can_write(self, chat: SimChat) -> None:
        if chat.type == "private":
            user = self.users.get(chat.id)
            if user is not None and user.blocked_bot:
                raise state_error("bot was blocked by the user", 403)

    def new_message(
        self,
        chat: SimChat,
        sender: dict[str, Any],
        content: dict[str, Any],
        *,
        thread_id: int | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "from": sender,
            "date": self.now(),
            "chat": chat.to_api(),
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            if chat.is_forum:
                message["is_topic_message"] = True
        message.update(content)
        chat.messages[message["message_id"]] = message
        return message

    def record_bot_message(
        self,
        chat: SimChat,
        method: str,
        message: dict[str, Any],
        *,
        text: str | None,
        entities: list[dict[str, Any]],
        media_kind: str | None = None,
    ) -> SentMessage:
        sent = SentMessage(
            chat_id=chat.id,
            message_id=message["message_id"],
            method=method,
            message=message,
            text=text,
            entities=entities,
            reply_markup=message.get("reply_markup"),
            thread_id=message.get("message_thread_id"),
            media=message.get(media_kind) if media_kind else None,
            media_kind=media_kind,
            media_group_id=message.get("media_group_id"),
        )
        chat.bot_messages[sent.message_id] = sent
        return sent

    # --- files ------------------------------------------------------------------------------

    def store_file(
        self,
        data: bytes,
        kind: str,
        *,
        extension: str,
        mime_type: str | None = None,
        file_name: str | None = None,
    ) -> FileRecord:
        serial = self.next_id()
        file_id = f"{_FILE_PREFIX.get(kind, 'BQAC')}{serial:08d}{secrets.token_urlsafe(24)}"
        folder = _FOLDERS.get(kind, "documents")
        record = FileRecord(
            file_id=file_id,
            file_unique_id=f"AQAD{serial:08d}{secrets.token_hex(2)}",
            data=data,
            file_path=f"{folder}/file_{serial}.{extension}",
            kind=kind,
            mime_type=mime_type,
            file_name=file_name,
        )
        self.files[file_id] = record
        self.files_by_path[record.file_path] = record
        return record

    def file(self, file_id: str) -> FileRecord:
        record = self.files.get(file_id)
        if record is None:
            raise state_error("wrong file identifier/HTTP URL specified")
        return record


_FILE_PREFIX = {
    "photo": "AgAC",
    "video": "BAAC",
    "document": "BQAC",
    "sticker": "CAAC",
    "voice": "AwAC",
    "audio": "CQAC",
    "animation": "CgAC",
}
_FOLDERS = {
    "photo": "photos",
    "video": "videos",
    "document": "documents",
    "sticker": "stickers",
    "voice": "voice",
    "audio": "music",
    "animation": "animations",
}
