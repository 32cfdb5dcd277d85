"""A small JSON control API under /_emulator/ so a standalone emulator can be driven by curl.

In-process users (tests, sandbox, benchmarks) call the Python simulation API directly; this
exists for the standalone `python -m bot.emulator`, where nothing else can reach the state.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from bot.emulator.emulator import Emulator
from bot.emulator.state import SentMessage, SimChat, SimUser

Action = Callable[[Emulator, dict[str, Any]], Awaitable[Any]]
EMULATOR = web.AppKey("control_emulator", Emulator)


def _user(emu: Emulator, body: dict[str, Any]) -> SimUser:
    user = emu.users.get(int(body["user_id"]))
    if user is None:
        raise web.HTTPNotFound(text=f"no user {body['user_id']}")
    return user


def _chat(emu: Emulator, body: dict[str, Any]) -> SimChat | None:
    if body.get("chat_id") is None:
        return None
    chat = emu.chats.get(int(body["chat_id"]))
    if chat is None:
        raise web.HTTPNotFound(text=f"no chat {body['chat_id']}")
    return chat


async def _create_user(emu: Emulator, body: dict[str, Any]) -> Any:
    return emu.create_user(
        body.get("id"),
        body.get("first_name", "Customer"),
        last_name=body.get("last_name"),
        username=body.get("username"),
        language_code=body.get("language_code", "en"),
    )


async def _create_group(emu: Emulator, body: dict[str, Any]) -> Any:
    return emu.create_group(
        body["title"], id=body.get("id"), is_forum=body.get("is_forum", True)
    ).to_api()


async def _send_text(emu: Emulator, body: dict[str, Any]) -> Any:
    return await emu.user_sends_text(
        _user(emu, body), body["text"], chat=_chat(emu, body), thread_id=body.get("thread_id")
    )


async def _send_contact(emu: Emulator, body: dict[str, Any]) -> Any:
    return await emu.user_sends_contact(
        _user(emu, body), body["phone_number"], body.get("contact_user_id")
    )


async def _send_photo(emu: Emulator, body: dict[str, Any]) -> Any:
    return await emu.user_sends_photo(
        _user(emu, body),
        base64.b64decode(body.get("data_base64", "")),
        body.get("caption"),
        chat=_chat(emu, body),
        thread_id=body.get("thread_id"),
    )


async def _click(emu: Emulator, body: dict[str, Any]) -> Any:
    user = _user(emu, body)
    chat = _chat(emu, body) or emu.chats[user.id]
    sent = chat.bot_messages.get(int(body["message_id"]))
    if sent is None:
        raise web.HTTPNotFound(text=f"no bot message {body['message_id']}")
    try:
        return await emu.user_clicks(user, sent, body["callback_data"])
    except LookupError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


async def _block(emu: Emulator, body: dict[str, Any]) -> Any:
    user = _user(emu, body)
    if body.get("blocked", True):
        return await emu.user_blocks_bot(user)
    return await emu.user_unblocks_bot(user)


ACTIONS: dict[str, Action] = {
    "users": _create_user,
    "groups": _create_group,
    "send_text": _send_text,
    "send_contact": _send_contact,
    "send_photo": _send_photo,
    "click": _click,
    "block": _block,
}


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _response(value: Any) -> web.Response:
    return web.json_response(_jsonable(value), dumps=lambda v: json.dumps(v, default=_jsonable))


async def handle_action(request: web.Request) -> web.Response:
    action = ACTIONS.get(request.match_info["action"])
    if action is None:
        raise web.HTTPNotFound(text=f"actions: {', '.join(ACTIONS)}")
    body = await request.json() if request.body_exists else {}
    return _response(await action(request.app[EMULATOR], body))


def _message_view(sent: SentMessage) -> dict[str, Any]:
    return {
        "message_id": sent.message_id,
        "text": sent.text,
        "buttons": [[b.get("text") for b in row] for row in _rows(sent)],
        "callback_data": sent.button_data(),
        "reply_keyboard": sent.reply_keyboard,
        "media_kind": sent.media_kind,
        "thread_id": sent.thread_id,
        "edits": len(sent.history),
        "deleted": sent.deleted,
    }


def _rows(sent: SentMessage) -> list[list[dict[str, Any]]]:
    return (sent.reply_markup or {}).get("inline_keyboard", [])


async def handle_messages(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    chat_id = int(request.match_info["chat_id"])
    return _response([_message_view(m) for m in emu.sent_messages(chat_id)])


async def handle_state(request: web.Request) -> web.Response:
    emu = request.app[EMULATOR]
    return _response(
        {
            "stats": emu.stats(),
            "validation_errors": emu.validation_errors[-50:],
            "api_errors": emu.api_errors[-50:],
        }
    )


def add_control_routes(app: web.Application, emulator: Emulator) -> None:
    app[EMULATOR] = emulator
    app.router.add_post("/_emulator/{action}", handle_action)
    app.router.add_get("/_emulator/messages/{chat_id}", handle_messages)
    app.router.add_get("/_emulator/state", handle_state)
