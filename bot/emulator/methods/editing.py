"""editMessageText / editMessageCaption / editMessageReplyMarkup, deleteMessage(s)."""

from __future__ import annotations

from typing import Any

from bot.emulator import limits
from bot.emulator.core import EmulatorCore
from bot.emulator.errors import bad_request, state_error
from bot.emulator.methods.registry import handles
from bot.emulator.state import MessageVersion, SentMessage

_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


def _editable(emu: EmulatorCore, p: dict[str, Any]) -> SentMessage:
    if "inline_message_id" in p:
        raise state_error("message to edit not found")
    if "chat_id" not in p or "message_id" not in p:
        raise bad_request("chat_id and message_id are required unless inline_message_id is given")
    chat = emu.resolve_chat(p["chat_id"])
    sent = chat.bot_messages.get(p["message_id"])
    if sent is None or sent.deleted:
        if p["message_id"] in chat.messages and not (sent and sent.deleted):
            raise state_error("message can't be edited")
        raise state_error("message to edit not found")
    emu.ensure_can_write(chat)
    return sent


def _markup(p: dict[str, Any]) -> dict[str, Any] | None:
    markup = p.get("reply_markup")
    limits.check_reply_markup(markup)
    return markup


def _apply(
    emu: EmulatorCore,
    sent: SentMessage,
    text: str | None,
    entities: list[dict[str, Any]],
    markup: dict[str, Any] | None,
    *,
    text_key: str,
) -> dict[str, Any] | bool:
    if text == sent.text and entities == sent.entities and markup == sent.reply_markup:
        raise state_error(_NOT_MODIFIED)
    now = emu.now()
    sent.history.append(MessageVersion(sent.text, sent.entities, sent.reply_markup, now))
    message = sent.message
    entity_key = "entities" if text_key == "text" else "caption_entities"
    if text is not None:
        message[text_key] = text
    else:
        message.pop(text_key, None)
    if entities:
        message[entity_key] = entities
    else:
        message.pop(entity_key, None)
    if markup:
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)
    message["edit_date"] = now
    sent.text, sent.entities, sent.reply_markup = text, entities, markup
    return message


@handles("editMessageText")
async def edit_message_text(
    emu: EmulatorCore, p: dict[str, Any], method: str
) -> dict[str, Any] | bool:
    text, entities = limits.message_text(p)
    markup = _markup(p)
    sent = _editable(emu, p)
    if "text" not in sent.message:
        raise state_error("there is no text in the message to edit")
    # Like Telegram, an edit without reply_markup removes the inline keyboard.
    return _apply(emu, sent, text, entities, markup, text_key="text")


@handles("editMessageCaption")
async def edit_message_caption(
    emu: EmulatorCore, p: dict[str, Any], method: str
) -> dict[str, Any] | bool:
    caption, entities = limits.caption(p)
    markup = _markup(p)
    sent = _editable(emu, p)
    if sent.media_kind is None:
        raise state_error("there is no caption in the message to edit")
    return _apply(emu, sent, caption, entities, markup, text_key="caption")


@handles("editMessageReplyMarkup")
async def edit_message_reply_markup(
    emu: EmulatorCore, p: dict[str, Any], method: str
) -> dict[str, Any] | bool:
    markup = _markup(p)
    sent = _editable(emu, p)
    text_key = "text" if "text" in sent.message else "caption"
    return _apply(emu, sent, sent.text, sent.entities, markup, text_key=text_key)


def _delete(emu: EmulatorCore, chat_id: int | str, message_id: int) -> None:
    chat = emu.resolve_chat(chat_id)
    message = chat.messages.pop(message_id, None)
    if message is None:
        raise state_error("message to delete not found")
    sent = chat.bot_messages.get(message_id)
    if sent is not None:
        sent.deleted = True


@handles("deleteMessage")
async def delete_message(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    _delete(emu, p["chat_id"], p["message_id"])
    return True


@handles("deleteMessages")
async def delete_messages(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    if not 1 <= len(p["message_ids"]) <= 100:
        raise bad_request("message_ids must contain 1-100 identifiers")
    chat = emu.resolve_chat(p["chat_id"])
    for message_id in p["message_ids"]:
        if message_id in chat.messages:
            _delete(emu, chat.id, message_id)
    return True
