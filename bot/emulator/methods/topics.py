"""Forum topics: create, edit, close, reopen, delete."""

from __future__ import annotations

from typing import Any

from bot.emulator.core import EmulatorCore
from bot.emulator.errors import bad_request, state_error
from bot.emulator.methods.registry import handles
from bot.emulator.state import SimChat, Topic

# The colors Telegram allows for topic icons.
ICON_COLORS = (0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F)


def _forum(emu: EmulatorCore, p: dict[str, Any]) -> SimChat:
    chat = emu.resolve_chat(p["chat_id"])
    if not chat.is_forum:
        raise state_error("the chat is not a forum")
    return chat


def _topic(chat: SimChat, p: dict[str, Any]) -> Topic:
    topic = chat.topics.get(p["message_thread_id"])
    if topic is None:
        raise state_error("message thread not found")
    return topic


def _check_name(name: str) -> None:
    if not 1 <= len(name) <= 128:
        raise bad_request("topic name must be 1-128 characters")


@handles("createForumTopic")
async def create_forum_topic(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    _check_name(p["name"])
    color = p.get("icon_color", ICON_COLORS[0])
    if color not in ICON_COLORS:
        raise bad_request("invalid icon_color: must be one of the six allowed colors")
    chat = _forum(emu, p)
    # The topic's id is the id of the service message that opens it.
    created = {"name": p["name"], "icon_color": color}
    if p.get("icon_custom_emoji_id"):
        created["icon_custom_emoji_id"] = p["icon_custom_emoji_id"]
    message_id = chat.next_message_id
    emu.new_message(chat, emu.bot_user(), {"forum_topic_created": created}, thread_id=message_id)
    topic = Topic(message_id, p["name"], color, p.get("icon_custom_emoji_id"))
    chat.topics[message_id] = topic
    return topic.to_api()


@handles("editForumTopic")
async def edit_forum_topic(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    chat = _forum(emu, p)
    topic = _topic(chat, p)
    name = p.get("name", topic.name)
    emoji = p.get("icon_custom_emoji_id", topic.icon_custom_emoji_id)
    _check_name(name)
    if (name, emoji) == (topic.name, topic.icon_custom_emoji_id):
        raise state_error("TOPIC_NOT_MODIFIED")
    topic.name, topic.icon_custom_emoji_id = name, emoji
    return True


@handles("closeForumTopic", "reopenForumTopic")
async def close_forum_topic(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    chat = _forum(emu, p)
    topic = _topic(chat, p)
    closed = method == "closeForumTopic"
    if topic.closed == closed:
        raise state_error("TOPIC_NOT_MODIFIED")
    topic.closed = closed
    return True


@handles("deleteForumTopic")
async def delete_forum_topic(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    chat = _forum(emu, p)
    _topic(chat, p)
    del chat.topics[p["message_thread_id"]]
    return True
