"""What a well-formed update looks like, and what makes two updates the same one.

Whatever reaches the bot — a webhook body, a getUpdates answer — is checked here before it is
stored: a body that is not an update Telegram could have sent (an `update_id` past 64 bits, a
callback query without `from`, a chat without an id) is refused with one line saying why, and
nothing behind the intake ever meets it. Fields the bot does not read are not checked.

`identity` is what tells a redelivery from a new update that reuses an old `update_id` (Telegram
picks ids at random after a week without updates): the chat and message, the callback query id.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

MAX_ID = 2**63 - 1  # what the database's BIGINT holds; Telegram's ids are far smaller
HANDLED = ("message", "edited_message", "callback_query", "my_chat_member")
CHAT_TYPES = ("private", "group", "supergroup", "channel")


class Malformed(ValueError):
    """Not an update the bot can take; str() says which field and why."""


def check(update: object) -> dict[str, Any]:
    """The update itself if it is well-formed; Malformed otherwise."""
    if not isinstance(update, dict):
        raise Malformed("not a JSON object")
    _int(update, "update_id", minimum=0)
    kinds = [key for key in update if key != "update_id"]
    if len(kinds) != 1:
        raise Malformed(f"expected exactly one kind of update, got {sorted(kinds)}")
    kind = kinds[0]
    body = update[kind]
    if kind in ("message", "edited_message"):
        _message(body, kind)
    elif kind == "callback_query":
        _callback_query(body)
    elif kind == "my_chat_member":
        _member_update(body)
    elif not isinstance(body, dict):
        raise Malformed(f"{kind}: not an object")
    return update


def kind_of(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def identity(update: dict[str, Any]) -> str:
    """What stays the same when Telegram delivers this update again, and differs otherwise."""
    kind = kind_of(update)
    body = update[kind]
    if kind == "message":
        return f"message:{body['chat']['id']}:{body['message_id']}"
    if kind == "edited_message":
        return f"edit:{body['chat']['id']}:{body['message_id']}:{body.get('edit_date', 0)}"
    if kind == "callback_query":
        return f"callback:{body['id']}"
    if kind == "my_chat_member":
        status = body["new_chat_member"].get("status")
        return f"member:{body['chat']['id']}:{body['from']['id']}:{body['date']}:{status}"
    content = {k: v for k, v in update.items() if k != "update_id"}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()
    return f"{kind}:{digest[:40]}"


# --- the parts the bot reads ------------------------------------------------------------------


def _message(message: object, where: str) -> None:
    obj = _obj(message, where)
    _int(obj, "message_id", where=where)
    _chat(obj.get("chat"), f"{where}.chat")
    if "from" in obj:
        _user(obj["from"], f"{where}.from")
    for name in ("text", "caption", "media_group_id"):
        _optional_str(obj, name, where)
    for name in ("date", "edit_date", "message_thread_id"):
        if name in obj:
            _int(obj, name, where=where)
    if "entities" in obj:
        for n, entity in enumerate(_list(obj["entities"], f"{where}.entities")):
            entity = _obj(entity, f"{where}.entities[{n}]")
            _optional_str(entity, "type", f"{where}.entities[{n}]")
            if "offset" in entity:
                _int(entity, "offset", where=f"{where}.entities[{n}]")
    if "contact" in obj:
        contact = _obj(obj["contact"], f"{where}.contact")
        _optional_str(contact, "phone_number", f"{where}.contact")
        if "user_id" in contact:
            _int(contact, "user_id", where=f"{where}.contact")
    if "photo" in obj:
        for n, size in enumerate(_list(obj["photo"], f"{where}.photo")):
            _file(size, f"{where}.photo[{n}]")
            for name in ("width", "height"):
                if name in size:
                    _int(size, name, where=f"{where}.photo[{n}]")
    for name in ("video", "document"):
        if name in obj:
            _file(obj[name], f"{where}.{name}")
            _optional_str(obj[name], "mime_type", f"{where}.{name}")
    if "reply_to_message" in obj:
        _message(obj["reply_to_message"], f"{where}.reply_to_message")


def _callback_query(query: object) -> None:
    obj = _obj(query, "callback_query")
    _str(obj, "id", "callback_query")
    _user(obj.get("from"), "callback_query.from")
    _optional_str(obj, "data", "callback_query")
    if "message" in obj:
        _message(obj["message"], "callback_query.message")


def _member_update(member: object) -> None:
    obj = _obj(member, "my_chat_member")
    _chat(obj.get("chat"), "my_chat_member.chat")
    _user(obj.get("from"), "my_chat_member.from")
    _int(obj, "date", where="my_chat_member")
    new = _obj(obj.get("new_chat_member"), "my_chat_member.new_chat_member")
    _str(new, "status", "my_chat_member.new_chat_member")


def _chat(chat: object, where: str) -> None:
    obj = _obj(chat, where)
    _int(obj, "id", where=where, minimum=-MAX_ID)
    if obj.get("type") not in CHAT_TYPES:
        raise Malformed(f"{where}.type: expected one of {', '.join(CHAT_TYPES)}")
    if "is_forum" in obj and not isinstance(obj["is_forum"], bool):
        raise Malformed(f"{where}.is_forum: expected true or false")


def _user(user: object, where: str) -> None:
    obj = _obj(user, where)
    _int(obj, "id", where=where, minimum=1)
    _optional_str(obj, "language_code", where)
    for name in ("first_name", "last_name", "username"):
        _optional_str(obj, name, where)


def _file(file: object, where: str) -> None:
    obj = _obj(file, where)
    _str(obj, "file_id", where)
    _str(obj, "file_unique_id", where)
    if "file_size" in obj:
        _int(obj, "file_size", where=where, minimum=-1)


def _obj(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Malformed(f"{where}: missing or not an object")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise Malformed(f"{where}: not a list")
    return value


def _int(obj: dict[str, Any], name: str, *, where: str = "", minimum: int = -MAX_ID) -> int:
    value = obj.get(name)
    label = f"{where}.{name}" if where else name
    # bool is an int in Python; JSON true is not an id.
    if not isinstance(value, int) or isinstance(value, bool):
        raise Malformed(f"{label}: missing or not an integer")
    if not minimum <= value <= MAX_ID:
        raise Malformed(f"{label}: out of range")
    return value


def _str(obj: dict[str, Any], name: str, where: str) -> None:
    if not isinstance(obj.get(name), str):
        raise Malformed(f"{where}.{name}: missing or not a string")


def _optional_str(obj: dict[str, Any], name: str, where: str) -> None:
    if name in obj and not isinstance(obj[name], str):
        raise Malformed(f"{where}.{name}: not a string")
