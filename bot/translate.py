"""Telegram updates (raw JSON, as stored in the inbox) → conversation events.

Only what the conversation understands becomes an event; anything else in a private chat is
"unsupported" (a polite answer, no change). Only private chats reach the customer
conversation: a message or a button pressed in a group is never a customer's event. Updates
arrive here checked (`bot.update_shape.check`), so the fields read below exist.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from dialogs.events import Event, MediaFile


@dataclass(frozen=True)
class Incoming:
    """One stored update, reduced to what the processor needs to route it."""

    inbox_id: int  # the inbox row (order of arrival); Telegram's update_id is in the payload
    chat_id: int | None
    private: bool
    media_group_id: str | None
    payload: dict[str, Any]
    thread_id: int | None = None  # the forum topic of a group update
    # In a group: the message it replies to (a message) or carries (a button) — a case card.
    card_ref: int | None = None
    lane_id: int | None = None  # known once stored (bot/intake.py): a topic's customer's chat
    # Stored while an update just below it was still on its way (webhook): worth a wait.
    unsettled: bool = False

    @property
    def lane(self) -> int:
        """Whose work it is: a customer's private chat (a case topic's update: the chat of the
        case's customer, once looked up), else the chat it came from."""
        if self.lane_id is not None:
            return self.lane_id
        return self.chat_id if self.chat_id is not None else 0

    @property
    def update_id(self) -> int:
        value = self.payload.get("update_id")
        return value if isinstance(value, int) else 0


def route(inbox_id: int, payload: dict[str, Any]) -> Incoming:
    message = payload.get("message") or payload.get("edited_message")
    chat: dict[str, Any] | None = None
    if message:
        chat = message.get("chat")
    elif "callback_query" in payload:
        # A button under an inline-mode message has no chat: nobody's conversation.
        chat = (payload["callback_query"].get("message") or {}).get("chat")
    elif "my_chat_member" in payload:
        chat = payload["my_chat_member"].get("chat")
    query_message = (payload.get("callback_query") or {}).get("message") or {}
    source = message or query_message
    topic = source.get("message_thread_id") if source.get("is_topic_message") else None
    if message:
        card_ref = (message.get("reply_to_message") or {}).get("message_id")
    else:
        card_ref = query_message.get("message_id")
    return Incoming(
        inbox_id=inbox_id,
        chat_id=chat.get("id") if chat else None,
        private=bool(chat and chat.get("type") == "private"),
        media_group_id=message.get("media_group_id") if message else None,
        payload=payload,
        thread_id=topic if isinstance(topic, int) else None,
        card_ref=card_ref if isinstance(card_ref, int) else None,
    )


def to_event(inbox_id: int, payload: dict[str, Any]) -> Event | None:
    """The customer's event for a private-chat update, or None when it is not one."""
    if "callback_query" in payload:
        return _callback(inbox_id, payload["callback_query"])
    edited = "edited_message" in payload
    message = payload.get("edited_message") if edited else payload.get("message")
    if not message or message["chat"]["type"] != "private":
        return None
    sender = message.get("from") or {}
    base = Event(
        event_id=inbox_id,
        chat_id=message["chat"]["id"],
        user_id=sender.get("id", message["chat"]["id"]),
        kind="text",
        message_id=message.get("message_id"),
        language_code=sender.get("language_code"),
        media_group_id=message.get("media_group_id"),
    )
    if edited:
        return replace(base, kind="edited", text=message.get("text", message.get("caption", "")))
    if "text" in message:
        command = _command(message)
        if command is not None:
            name, arg = command
            return replace(base, kind="command", command=name, text=arg)
        return replace(base, text=message["text"])
    if "contact" in message:
        contact = message["contact"]
        return replace(
            base,
            kind="contact",
            contact_phone=contact.get("phone_number"),
            contact_user_id=contact.get("user_id"),
        )
    media = _media(message)
    if media is not None:
        return replace(base, kind="media", media=(media,), text=message.get("caption", ""))
    return replace(base, kind="unsupported")


def group_event(inbox_id: int, payload: dict[str, Any]) -> Event | None:
    """A message or a button pressed in a group (the agents' side), or None."""
    query = payload.get("callback_query")
    if query is not None:
        message = query.get("message") or {}
        chat = message.get("chat") or {}
        return Event(
            event_id=inbox_id, chat_id=chat.get("id", 0), user_id=query["from"]["id"],
            kind="button", data=query.get("data") or "", callback_id=query["id"],
            message_id=message.get("message_id"), thread_id=message.get("message_thread_id"),
            language_code=query["from"].get("language_code"), user_name=_name(query["from"]),
        )  # fmt: skip
    message = payload.get("message")
    if not message or message["chat"]["type"] not in ("group", "supergroup"):
        return None
    event = to_event(inbox_id, {"message": {**message, "chat": {**message["chat"],
                                                               "type": "private"}}})  # fmt: skip
    if event is None:
        return None
    # In a forum, a message in a topic carries its thread id; in a plain group a reply to
    # a case card is how an agent writes into the case.
    thread = message.get("message_thread_id") if message.get("is_topic_message") else None
    replied = message.get("reply_to_message") or {}
    return replace(
        event, chat_id=message["chat"]["id"], thread_id=thread,
        user_name=_name(message.get("from") or {}), reply_to=replied.get("message_id"),
    )  # fmt: skip


def _name(user: dict[str, Any]) -> str:
    parts = [str(user.get("first_name") or ""), str(user.get("last_name") or "")]
    return " ".join(p for p in parts if p) or str(user.get("username") or user.get("id", ""))


def merge_album(events: list[Event]) -> Event:
    """The parts of one album as a single evidence event (one answer, not ten)."""
    first = events[0]
    media = tuple(m for e in events for m in e.media)
    caption = next((e.text for e in events if e.text), "")
    return replace(first, media=media, text=caption)


def _callback(inbox_id: int, query: dict[str, Any]) -> Event | None:
    message = query.get("message")
    if not message or message["chat"]["type"] != "private":
        return None  # a group's buttons are the agents' (or nobody's), never a customer's
    sender = query["from"]
    return Event(
        event_id=inbox_id,
        chat_id=message["chat"]["id"],
        user_id=sender["id"],
        kind="button",
        data=query.get("data") or "",
        callback_id=query["id"],
        message_id=message.get("message_id"),
        language_code=sender.get("language_code"),
    )


def _command(message: dict[str, Any]) -> tuple[str, str] | None:
    text: str = message["text"]
    entities = message.get("entities") or []
    is_command = any(e.get("type") == "bot_command" and e.get("offset") == 0 for e in entities)
    if not is_command and not text.startswith("/"):
        return None
    head, _, arg = text.partition(" ")
    name = head[1:].split("@", 1)[0].lower()
    if not name or not name.replace("_", "").isalnum():
        return None
    return name, arg.strip()


def _media(message: dict[str, Any]) -> MediaFile | None:
    if message.get("photo"):
        largest = max(message["photo"], key=lambda p: p.get("width", 0) * p.get("height", 0))
        return MediaFile("photo", largest["file_id"], largest["file_unique_id"],
                         largest.get("file_size"), "image/jpeg")  # fmt: skip
    for kind in ("video", "document"):
        if message.get(kind):
            item = message[kind]
            return MediaFile(
                kind,  # type: ignore[arg-type]
                item["file_id"],
                item["file_unique_id"],
                item.get("file_size"),
                item.get("mime_type"),
            )
    return None
