"""What comes into a conversation and what goes out of it, with no Telegram types."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

EventKind = Literal[
    "text",  # free text typed by the customer
    "command",  # /start, /menu, ... (name in `command`, argument in `text`)
    "button",  # an inline button pressed (opaque `data`)
    "contact",  # a shared contact
    "media",  # one photo/video/document or a whole album
    "edited",  # the customer edited an earlier message (its id in `message_id`, new `text`)
    "unsupported",  # stickers, voice, locations, polls, ...
]


@dataclass(frozen=True)
class MediaFile:
    kind: Literal["photo", "video", "document"]
    file_id: str
    file_unique_id: str
    size_bytes: int | None = None
    mime_type: str | None = None
    local_path: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Event:
    """One thing the customer did. `event_id` is unique per event (Telegram's update_id)."""

    event_id: int
    chat_id: int
    user_id: int
    kind: EventKind
    text: str = ""
    command: str = ""
    data: str = ""
    callback_id: str | None = None
    message_id: int | None = None  # the message a button belongs to
    thread_id: int | None = None  # the forum topic of a group message
    contact_phone: str | None = None
    contact_user_id: int | None = None
    media: tuple[MediaFile, ...] = ()
    media_group_id: str | None = None
    language_code: str | None = None
    user_name: str | None = None  # the sender's display name (for the agents' side)
    reply_to: int | None = None  # the message this one replies to (a plain group's card)
    refused: str | None = None  # set by the transport: why the input was refused (too_large, ...)
    refused_values: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Button:
    text: str
    data: str


@dataclass
class Reply:
    """One outgoing message. Stored as JSON in the outbox and turned into a Bot API call by bot/."""

    chat_id: int
    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    contact_button: str | None = None  # label of a "share my contact" keyboard button
    remove_keyboard: bool = False
    edit_message_id: int | None = None  # replace this menu message instead of sending a new one
    thread_id: int | None = None  # a forum topic of a group

    def as_payload(self) -> dict[str, Any]:
        return {
            "kind": "message",
            "chat_id": self.chat_id,
            "text": self.text,
            "buttons": [[{"text": b.text, "data": b.data} for b in row] for row in self.buttons],
            "contact_button": self.contact_button,
            "remove_keyboard": self.remove_keyboard,
            "edit_message_id": self.edit_message_id,
        }


@dataclass
class CallbackAnswer:
    """The answer to a pressed button (Telegram wants one for every press)."""

    chat_id: int
    callback_id: str
    text: str | None = None

    def as_payload(self) -> dict[str, Any]:
        return {
            "kind": "callback_answer",
            "chat_id": self.chat_id,
            "callback_id": self.callback_id,
            "text": self.text,
        }


@dataclass
class Copy:
    """A message of one chat re-sent by the bot into another (an agent's answer reaching the
    customer: it arrives as the bot's own message)."""

    chat_id: int
    from_chat_id: int
    message_id: int

    def as_payload(self) -> dict[str, Any]:
        return {"kind": "copy", "chat_id": self.chat_id, "from_chat_id": self.from_chat_id,
                "message_id": self.message_id}  # fmt: skip


@dataclass
class TopicPost:
    """Something for a case's topic in the agents' group. The outbox finds the topic (or
    makes it) when the row leaves; rows of one topic that queue up may leave together."""

    agent_chat_id: int
    case_id: int
    topic_name: str
    payload: dict[str, Any]  # a message, copy, media_group or topic_state payload, no chat
    locale: str = "zh"  # the agents' language (for notes the outbox adds)

    def as_payload(self) -> dict[str, Any]:
        return {**self.payload, "chat_id": self.agent_chat_id, "locale": self.locale,
                "topic": {"case_id": self.case_id, "name": self.topic_name}}  # fmt: skip


@dataclass
class Resume:
    """The customer's conversation goes back to the bot (a person is done with it)."""

    chat_id: int


@dataclass
class Discard:
    """Stored evidence files that nothing keeps any more: deleted once the turn is committed
    (photos past the maximum, of a cancelled request, sent where no photo is asked for)."""

    paths: tuple[str, ...]


Outgoing = Reply | CallbackAnswer | Discard | Copy | TopicPost | Resume
