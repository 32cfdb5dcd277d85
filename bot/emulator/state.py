"""What the fake Telegram remembers: users, chats, messages, files, topics, callback queries.

Every collection is a dict keyed by id so that handlers never scan all messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ChatType = Literal["private", "group", "supergroup"]


@dataclass(slots=True)
class SimUser:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False
    blocked_bot: bool = False

    def to_api(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user


@dataclass(slots=True)
class MessageVersion:
    """A previous state of a bot message, kept in its edit history."""

    text: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    edited_at: int


@dataclass(slots=True)
class SentMessage:
    """A message the bot sent, as tests observe it (text holds the caption of media)."""

    chat_id: int
    message_id: int
    method: str
    message: dict[str, Any]
    text: str | None
    entities: list[dict[str, Any]]
    reply_markup: dict[str, Any] | None
    thread_id: int | None = None
    media: dict[str, Any] | None = None
    media_kind: str | None = None
    media_group_id: str | None = None
    history: list[MessageVersion] = field(default_factory=list)
    # ReplyKeyboardMarkup / ReplyKeyboardRemove / ForceReply sent with the message
    reply_keyboard: dict[str, Any] | None = None
    deleted: bool = False
    pinned: bool = False

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """Inline buttons flattened row by row (empty without an inline keyboard)."""
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]

    def button_data(self) -> list[str]:
        return [b["callback_data"] for b in self.buttons if "callback_data" in b]


@dataclass(slots=True)
class Topic:
    message_thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    closed: bool = False

    def to_api(self) -> dict[str, Any]:
        topic: dict[str, Any] = {
            "message_thread_id": self.message_thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
        }
        if self.icon_custom_emoji_id:
            topic["icon_custom_emoji_id"] = self.icon_custom_emoji_id
        return topic


@dataclass(slots=True)
class SimChat:
    id: int
    type: ChatType
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    is_forum: bool = False
    # the bot may write to a private chat only after the user contacted it
    known: bool = False
    next_message_id: int = 1
    member_status: dict[int, str] = field(default_factory=dict)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    bot_messages: dict[int, SentMessage] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    pinned: list[int] = field(default_factory=list)
    menu_button: dict[str, Any] | None = None
    # the custom reply keyboard the user currently sees (ReplyKeyboardMarkup), if any
    reply_keyboard: dict[str, Any] | None = None

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def to_api(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        for key in ("title", "username", "first_name", "last_name"):
            value = getattr(self, key)
            if value:
                chat[key] = value
        if self.is_forum:
            chat["is_forum"] = True
        return chat


@dataclass(slots=True)
class FileRecord:
    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    kind: str
    mime_type: str | None = None
    file_name: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "file_id": self.file_id,
            "file_unique_id": self.file_unique_id,
            "file_size": len(self.data),
            "file_path": self.file_path,
        }


@dataclass(slots=True)
class CallbackRecord:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created_at: float
    update_id: int
    answered: bool = False
    answer: dict[str, Any] | None = None


@dataclass(slots=True)
class CallRecord:
    """One Bot API request as the emulator received it."""

    method: str
    params: dict[str, Any]
    at: float
    ok: bool = True
    error_code: int | None = None
    description: str | None = None
    fault: str | None = None
    duration: float = 0.0
