"""getChat, chat members, chat actions, pins and the menu button."""

from __future__ import annotations

from typing import Any

from bot.emulator.core import EmulatorCore
from bot.emulator.errors import bad_request, state_error
from bot.emulator.methods.registry import handles
from bot.emulator.state import SimChat

CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

# The bot is an administrator of every group it is in, with the rights a support bot needs.
_BOT_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": True,
    "can_manage_video_chats": False,
    "can_restrict_members": False,
    "can_promote_members": False,
    "can_change_info": False,
    "can_invite_users": True,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
    "can_pin_messages": True,
    "can_manage_topics": True,
}


@handles("getChat")
async def get_chat(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    chat = emu.resolve_chat(p["chat_id"])
    info = chat.to_api()
    info.update(accent_color_id=0, max_reaction_count=11)
    if chat.pinned:
        pinned = chat.messages.get(chat.pinned[-1])
        if pinned is not None:
            info["pinned_message"] = pinned
    return emu.objects.complete("ChatFullInfo", info)


def member(emu: EmulatorCore, chat: SimChat, user_id: int) -> dict[str, Any]:
    if user_id == emu.bot_id:
        if chat.type == "private":
            return {"status": "member", "user": emu.bot_user()}
        return emu.objects.complete(
            "ChatMemberAdministrator",
            {"status": "administrator", "user": emu.bot_user(), **_BOT_RIGHTS},
        )
    user = emu.users.get(user_id)
    if user is None:
        raise state_error("user not found")
    status = chat.member_status.get(user_id)
    if chat.type == "private":
        status = "member" if user_id == chat.id else "left"
    status = status or "left"
    result: dict[str, Any] = {"status": status, "user": user.to_api()}
    if status == "administrator":
        result.update(_BOT_RIGHTS)
    # The spec's ChatMember union maps each status to its subtype and its required fields.
    (subtype,) = emu.spec.unions["ChatMember"].by_value[status]
    return emu.objects.complete(subtype, result)


@handles("getChatMember")
async def get_chat_member(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    chat = emu.resolve_chat(p["chat_id"])
    return member(emu, chat, p["user_id"])


@handles("getChatAdministrators")
async def get_chat_administrators(
    emu: EmulatorCore, p: dict[str, Any], method: str
) -> list[dict[str, Any]]:
    chat = emu.resolve_chat(p["chat_id"])
    if chat.type == "private":
        raise state_error("there are no administrators in the private chat")
    admins = [
        member(emu, chat, user_id)
        for user_id, status in chat.member_status.items()
        if status in ("creator", "administrator")
    ]
    return [*admins, member(emu, chat, emu.bot_id)]


@handles("getChatMemberCount")
async def get_chat_member_count(emu: EmulatorCore, p: dict[str, Any], method: str) -> int:
    chat = emu.resolve_chat(p["chat_id"])
    if chat.type == "private":
        return 2
    present = ("creator", "administrator", "member", "restricted")
    return 1 + sum(1 for s in chat.member_status.values() if s in present)


@handles("sendChatAction")
async def send_chat_action(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    if p["action"] not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat = emu.resolve_chat(p["chat_id"])
    emu.ensure_can_write(chat)
    return True


@handles("pinChatMessage")
async def pin_chat_message(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    chat = emu.resolve_chat(p["chat_id"])
    if p["message_id"] not in chat.messages:
        raise state_error("message to pin not found")
    chat.pinned.append(p["message_id"])
    sent = chat.bot_messages.get(p["message_id"])
    if sent is not None:
        sent.pinned = True
    return True


@handles("unpinChatMessage")
async def unpin_chat_message(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    chat = emu.resolve_chat(p["chat_id"])
    message_id = p.get("message_id") or (chat.pinned[-1] if chat.pinned else None)
    if message_id is None or message_id not in chat.pinned:
        raise state_error("message to unpin not found")
    chat.pinned.remove(message_id)
    sent = chat.bot_messages.get(message_id)
    if sent is not None:
        sent.pinned = False
    return True


@handles("unpinAllChatMessages")
async def unpin_all_chat_messages(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    chat = emu.resolve_chat(p["chat_id"])
    for message_id in chat.pinned:
        sent = chat.bot_messages.get(message_id)
        if sent is not None:
            sent.pinned = False
    chat.pinned.clear()
    return True


@handles("setChatMenuButton")
async def set_chat_menu_button(emu: EmulatorCore, p: dict[str, Any], method: str) -> bool:
    button = p.get("menu_button") or {"type": "default"}
    if "chat_id" in p:
        emu.resolve_chat(p["chat_id"]).menu_button = button
    else:
        emu.default_menu_button = button
    return True


@handles("getChatMenuButton")
async def get_chat_menu_button(emu: EmulatorCore, p: dict[str, Any], method: str) -> dict[str, Any]:
    if "chat_id" in p:
        return emu.resolve_chat(p["chat_id"]).menu_button or emu.default_menu_button
    return emu.default_menu_button
