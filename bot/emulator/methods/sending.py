"""sendMessage, send<Media>, sendMediaGroup, copyMessage, forwardMessage, location/contact."""

from __future__ import annotations

from typing import Any

from bot.emulator import limits
from bot.emulator.core import EmulatorCore
from bot.emulator.errors import ApiError, bad_request, state_error
from bot.emulator.media import media_from_input
from bot.emulator.methods.registry import handles
from bot.emulator.state import SentMessage, SimChat

_MEDIA_METHODS = {
    "sendPhoto": "photo",
    "sendDocument": "document",
    "sendVideo": "video",
    "sendAudio": "audio",
    "sendVoice": "voice",
    "sendAnimation": "animation",
    "sendSticker": "sticker",
    "sendVideoNote": "video_note",
}
_ALBUM_KINDS = ({"photo", "video"}, {"document"}, {"audio"})


def target(emu: EmulatorCore, p: dict[str, Any]) -> tuple[SimChat, int | None]:
    """The chat and forum topic a send call writes to, after Telegram's state checks."""
    chat = emu.resolve_chat(p["chat_id"])
    emu.ensure_can_write(chat)
    thread_id = p.get("message_thread_id")
    if thread_id is not None and chat.is_forum and thread_id not in chat.topics:
        raise state_error("message thread not found")
    retry_after = emu.rate_limits.check(chat.id, chat.type == "private")
    if retry_after is not None and emu.rate_limits.enforce:
        raise ApiError(
            429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
        )
    return chat, thread_id


def reply_fields(chat: SimChat, p: dict[str, Any]) -> dict[str, Any]:
    reply = p.get("reply_parameters")
    if reply is None:
        return {}
    if reply.get("chat_id") not in (None, chat.id):
        return {}
    original = chat.messages.get(reply["message_id"])
    if original is None:
        if reply.get("allow_sending_without_reply"):
            return {}
        raise state_error("message to be replied not found")
    # Telegram does not nest replies inside the replied-to message.
    return {"reply_to_message": {k: v for k, v in original.items() if k != "reply_to_message"}}


def _markup(p: dict[str, Any]) -> dict[str, Any]:
    markup = p.get("reply_markup")
    limits.check_reply_markup(markup)
    # Only inline keyboards are attached to the message object itself.
    return {"reply_markup": markup} if markup and "inline_keyboard" in markup else {}


def _remember_reply_keyboard(chat: SimChat, sent: SentMessage, p: dict[str, Any]) -> None:
    markup = p.get("reply_markup")
    if not markup or "inline_keyboard" in markup:
        return
    sent.reply_keyboard = markup
    if "keyboard" in markup:
        chat.reply_keyboard = markup
    elif markup.get("remove_keyboard"):
        chat.reply_keyboard = None


def _send(
    emu: EmulatorCore,
    p: dict[str, Any],
    method: str,
    content: dict[str, Any],
    *,
    text: str | None,
    entities: list[dict[str, Any]],
    media_kind: str | None = None,
) -> dict[str, Any]:
    markup = _markup(p)
    chat, thread_id = target(emu, p)
    content = {**content, **reply_fields(chat, p), **markup}
    if p.get("protect_content"):
        content["has_protected_content"] = True
    message = emu.new_message(chat, emu.bot_user(), content, thread_id=thread_id)
    sent = emu.record_bot_message(
        chat, method, message, text=text, entities=entities, media_kind=media_kind
    )
    _remember_reply_keyboard(chat, sent, p)
    return message


@handles("sendMessage")
async def send_message(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    text, entities = limits.message_text(p)
    content: dict[str, Any] = {"text": text}
    if entities:
        content["entities"] = entities
    if p.get("link_preview_options"):
        content["link_preview_options"] = p["link_preview_options"]
    return _send(emu, p, method, content, text=text, entities=entities)


@handles(*_MEDIA_METHODS)
async def send_media(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    kind = _MEDIA_METHODS[method]
    caption, entities = limits.caption(p)
    content = _caption_fields(caption, entities)
    content[kind] = media_from_input(emu, kind, p[kind])
    if p.get("has_spoiler"):
        content["has_media_spoiler"] = True
    return _send(emu, p, method, content, text=caption, entities=entities, media_kind=kind)


def _caption_fields(caption: str | None, entities: list[dict[str, Any]]) -> dict[str, Any]:
    content: dict[str, Any] = {}
    if caption:
        content["caption"] = caption
    if entities:
        content["caption_entities"] = entities
    return content


@handles("sendMediaGroup")
async def send_media_group(
    emu: EmulatorCore, p: dict[str, Any], method: str
) -> list[dict[str, Any]]:
    media = p["media"]
    if not 2 <= len(media) <= 10:
        raise bad_request("media group must include 2-10 items")
    kinds = {item["type"] for item in media}
    if not any(kinds <= allowed for allowed in _ALBUM_KINDS):
        raise bad_request(f"can't mix {', '.join(sorted(kinds))} in one media group")
    prepared = [(item, *limits.caption(item)) for item in media]
    chat, thread_id = target(emu, p)
    reply = reply_fields(chat, p)
    group_id = str(10_000_000_000 + emu.next_id())
    messages = []
    for item, caption, entities in prepared:
        kind = item["type"]
        content = {
            **_caption_fields(caption, entities),
            kind: media_from_input(emu, kind, item["media"]),
            "media_group_id": group_id,
            **reply,
        }
        message = emu.new_message(chat, emu.bot_user(), content, thread_id=thread_id)
        emu.record_bot_message(
            chat, method, message, text=caption, entities=entities, media_kind=kind
        )
        messages.append(message)
    return messages


_COPYABLE = ("text", "entities", "caption", "caption_entities", "photo", "document", "video",
             "audio", "voice", "animation", "sticker", "video_note", "contact", "location",
             "poll", "venue")  # fmt: skip


def _source_message(emu: EmulatorCore, p: dict[str, Any]) -> dict[str, Any]:
    source_chat = emu.resolve_chat(p["from_chat_id"])
    message = source_chat.messages.get(p["message_id"])
    if message is None:
        raise state_error("message to copy not found")
    return message


@handles("copyMessage")
async def copy_message(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    source = _source_message(emu, p)
    content = {k: source[k] for k in _COPYABLE if k in source}
    if "caption" in p:
        caption, entities = limits.caption(p)
        content.pop("caption_entities", None)
        content.update(_caption_fields(caption, entities))
    kind = next((k for k in _COPYABLE[4:] if k in content), None)
    text = content.get("text", content.get("caption"))
    entities = content.get("entities", content.get("caption_entities", []))
    message = _send(emu, p, method, content, text=text, entities=entities, media_kind=kind)
    return {"message_id": message["message_id"]}


@handles("forwardMessage")
async def forward_message(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    source = _source_message(emu, p)
    content = {k: source[k] for k in _COPYABLE if k in source}
    origin_user = source.get("from") or emu.bot_user()
    content["forward_origin"] = {"type": "user", "date": source["date"], "sender_user": origin_user}
    kind = next((k for k in _COPYABLE[4:] if k in content), None)
    text = content.get("text", content.get("caption"))
    entities = content.get("entities", content.get("caption_entities", []))
    return _send(emu, p, method, content, text=text, entities=entities, media_kind=kind)


@handles("sendLocation")
async def send_location(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    location = {"latitude": p["latitude"], "longitude": p["longitude"]}
    return _send(emu, p, method, {"location": location}, text=None, entities=[])


@handles("sendContact")
async def send_contact(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    contact = {k: p[k] for k in ("phone_number", "first_name", "last_name", "vcard") if k in p}
    return _send(emu, p, method, {"contact": contact}, text=None, entities=[])
