"""Outbox payloads as Bot API calls.

`plan(payload)` turns one payload into `Step`s, each a single Telegram call that leaves at most
one visible message (or one album) behind. The outbox worker runs the steps in order and
records its progress after each, so a retry never repeats a step Telegram already accepted.
`deliver()` runs a whole plan at once (tools and tests).

Payload kinds: message, callback_answer, photo, media_group, copy, create_topic, topic_state
(see docs/outbox.md), and chart (a report's picture, drawn as it leaves: bot/reports/send.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import (
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
)

from bot import json_calls
from dialogs.events import CallbackAnswer

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_TEXT = 200
MAX_ALBUM = 10
MAX_TOPIC_NAME = 128
HTML = "HTML"
NO_PREVIEW = {"is_disabled": True}  # link_preview_options
INLINE = "inline_keyboard"

# Telegram's answers (substrings of the description) that need no retry.
NOT_MODIFIED = "message is not modified"
EDIT_IMPOSSIBLE = (
    "message to edit not found",
    "message can't be edited",
    "there is no text in the message to edit",
)
QUERY_TOO_OLD = "query is too old"

# reply_markup as Telegram's JSON: {"inline_keyboard": ...}, {"keyboard": ...} or
# {"remove_keyboard": true}
ReplyMarkup = dict[str, Any]
# (bot, id of the message the previous step left) -> id of the message this step left
StepCall = Callable[[Bot, int | None], Awaitable[int | None]]


class PayloadError(ValueError):
    """A payload no Telegram call can carry (a bug upstream): fail the row, never retry."""


@dataclass(frozen=True, slots=True)
class Step:
    method: str  # for logs
    call: StepCall
    flood_limited: bool = True  # counts against the per-chat and global message rates


def plan(payload: dict[str, Any]) -> list[Step]:
    kind = str(payload.get("kind"))
    planner = _PLANNERS.get(kind)
    if planner is None:
        raise PayloadError(f"unknown payload kind {kind!r}")
    return planner(payload)


async def deliver(bot: Bot, payload: dict[str, Any]) -> int | None:
    """Send a payload in one go; the id of the last message sent or edited (None if none)."""
    message_id: int | None = None
    for step in plan(payload):
        message_id = await step.call(bot, message_id) or message_id
    return message_id


# --- message ------------------------------------------------------------------------------


def _plan_message(p: dict[str, Any]) -> list[Step]:
    chat_id: int = p["chat_id"]
    thread_id: int | None = p.get("message_thread_id")
    inline = inline_keyboard(p.get("buttons") or [])
    reply = _reply_keyboard(p)
    parts = split_html(p["text"], MAX_TEXT)
    if not parts:
        raise PayloadError("message text is empty")
    # One message has one reply_markup. A reply keyboard (contact / removal) rides on the first
    # part, the inline keyboard on the last; with a single part the inline keyboard is attached
    # afterwards by editMessageReplyMarkup, so the customer still sees one message.
    markups: list[ReplyMarkup | None] = [None] * len(parts)
    markups[-1] = inline
    attach_inline_later = False
    if reply is not None:
        attach_inline_later = len(parts) == 1 and inline is not None
        markups[0] = reply
    steps: list[Step] = []
    edit_id: int | None = p.get("edit_message_id")
    reply_to: int | None = p.get("reply_to")
    for index, (text, markup) in enumerate(zip(parts, markups, strict=True)):
        # editMessageText carries only inline keyboards: a reply keyboard needs a new message.
        if index == 0 and edit_id is not None and (markup is None or INLINE in markup):
            steps.append(_edit_text(chat_id, edit_id, text, markup, thread_id))
        else:
            steps.append(
                _send_text(chat_id, text, markup, thread_id, reply_to if index == 0 else None)
            )
    if attach_inline_later:
        assert inline is not None
        steps.append(_attach_inline(chat_id, inline))
    return steps


def inline_keyboard(rows: Sequence[Sequence[dict[str, str]]]) -> ReplyMarkup | None:
    keyboard = [[_button(b) for b in row] for row in rows if row]
    return {INLINE: keyboard} if keyboard else None


def _button(button: dict[str, str]) -> dict[str, str]:
    size = len(button["data"].encode("utf-8"))
    if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
        log.error("callback data of %r is %d bytes", button["text"], size)
        raise PayloadError(
            f"callback data must be 1-{MAX_CALLBACK_DATA_BYTES} bytes, got {size}: "
            f"{button['data']!r}"
        )
    return {"text": button["text"], "callback_data": button["data"]}


def _reply_keyboard(p: dict[str, Any]) -> ReplyMarkup | None:
    if p.get("contact_button"):
        button = {"text": p["contact_button"], "request_contact": True}
        return {"keyboard": [[button]], "resize_keyboard": True, "one_time_keyboard": True}
    if p.get("remove_keyboard"):
        return {"remove_keyboard": True}
    return None


def _send_text(
    chat_id: int, text: str, markup: ReplyMarkup | None, thread_id: int | None,
    reply_to: int | None = None,
) -> Step:  # fmt: skip
    async def call(bot: Bot, _previous: int | None) -> int:
        message = await json_calls.call(
            bot,
            "sendMessage",
            {"chat_id": chat_id, "text": text, "message_thread_id": thread_id,
             "parse_mode": HTML, "link_preview_options": NO_PREVIEW, "reply_markup": markup,
             "reply_parameters": _reply(reply_to)},
        )  # fmt: skip
        return int(message["message_id"])

    return Step("sendMessage", call)


def _edit_text(
    chat_id: int,
    message_id: int,
    text: str,
    markup: ReplyMarkup | None,
    thread_id: int | None,
) -> Step:
    async def call(bot: Bot, previous: int | None) -> int:
        try:
            await json_calls.call(
                bot,
                "editMessageText",
                {"chat_id": chat_id, "message_id": message_id, "text": text,
                 "parse_mode": HTML, "link_preview_options": NO_PREVIEW, "reply_markup": markup},
            )  # fmt: skip
        except TelegramBadRequest as error:
            if NOT_MODIFIED in error.message:
                return message_id  # already shows exactly this: the goal is reached
            if not any(reason in error.message for reason in EDIT_IMPOSSIBLE):
                raise
            # Deleted, too old or not ours: the customer still needs to see the new text.
            log.info("message %s in chat %s not editable, sending anew", message_id, chat_id)
            return await _send_text(chat_id, text, markup, thread_id).call(bot, previous)
        return message_id

    return Step("editMessageText", call)


def _attach_inline(chat_id: int, markup: ReplyMarkup) -> Step:
    async def call(bot: Bot, previous: int | None) -> int | None:
        if previous is None:
            raise PayloadError("no message to attach the inline keyboard to")
        try:
            await json_calls.call(
                bot,
                "editMessageReplyMarkup",
                {"chat_id": chat_id, "message_id": previous, "reply_markup": markup},
            )
        except TelegramBadRequest as error:
            if NOT_MODIFIED not in error.message:
                raise
        return previous

    # An edit, not a new message: it does not count against the message rates.
    return Step("editMessageReplyMarkup", call, flood_limited=False)


# --- callback answer ----------------------------------------------------------------------


def _plan_callback_answer(p: dict[str, Any]) -> list[Step]:
    query_id: str = p["callback_id"]
    text: str | None = p.get("text")
    if text is not None and len(text) > MAX_CALLBACK_TEXT:
        log.warning("callback answer of %d characters cut to %d", len(text), MAX_CALLBACK_TEXT)
        text = text[: MAX_CALLBACK_TEXT - 1] + "…"

    async def call(bot: Bot, _previous: int | None) -> None:
        try:
            await json_calls.call(
                bot, "answerCallbackQuery", {"callback_query_id": query_id, "text": text}
            )
        except TelegramBadRequest as error:
            if QUERY_TOO_OLD not in error.message:
                raise
            # The client stopped waiting long ago; there is nobody left to answer.
            log.info("callback query %s expired before it was answered", query_id)

    return [Step("answerCallbackQuery", call, flood_limited=False)]


async def answer_callback(bot: Bot, answer: CallbackAnswer) -> None:
    """Answer a pressed button directly (not through the outbox: nothing is lost with it)."""
    try:
        await deliver(bot, answer.as_payload())
    except (TelegramAPIError, aiohttp.ClientError, TimeoutError) as error:
        # The spinner on the customer's button stops by itself a little later.
        log.info("callback %s not answered: %s", answer.callback_id, error)


# --- photos and albums --------------------------------------------------------------------


def _plan_photo(p: dict[str, Any]) -> list[Step]:
    chat_id: int = p["chat_id"]
    thread_id: int | None = p.get("message_thread_id")
    caption: str | None = p.get("caption") or None
    markup = inline_keyboard(p.get("buttons") or [])
    overflow: list[str] = []
    if caption is not None and _units(_visible(caption)) > MAX_CAPTION:
        # Too long for a caption: the photo goes bare and the text follows it as messages.
        overflow, caption = split_html(caption, MAX_TEXT), None
    steps = [
        _send_media(
            chat_id, "photo", p["file_id"], caption, thread_id, markup=None if overflow else markup
        )
    ]
    for index, text in enumerate(overflow):
        steps.append(
            _send_text(chat_id, text, markup if index == len(overflow) - 1 else None, thread_id)
        )
    return steps


def _plan_media_group(p: dict[str, Any]) -> list[Step]:
    chat_id: int = p["chat_id"]
    thread_id: int | None = p.get("message_thread_id")
    media: list[dict[str, Any]] = p["media"]
    if not media:
        raise PayloadError("media group without media")
    for item in media:
        if item.get("type") not in _INPUT_MEDIA:
            raise PayloadError(f"unsupported media type {item.get('type')!r}")
        if _units(_visible(item.get("caption") or "")) > MAX_CAPTION:
            raise PayloadError("media caption longer than 1024 characters")
    steps = []
    for start in range(0, len(media), MAX_ALBUM):
        chunk = media[start : start + MAX_ALBUM]
        if len(chunk) == 1:  # an album needs 2-10 items
            item = chunk[0]
            steps.append(
                _send_media(chat_id, item["type"], item["media"], item.get("caption"), thread_id)
            )
        else:
            steps.append(_send_album(chat_id, chunk, thread_id))
    return steps


_INPUT_MEDIA = {"photo": InputMediaPhoto, "video": InputMediaVideo, "document": InputMediaDocument}


def _send_media(
    chat_id: int,
    kind: str,
    file_id: str,
    caption: str | None,
    thread_id: int | None,
    *,
    markup: ReplyMarkup | None = None,
) -> Step:
    method = {"photo": "send_photo", "video": "send_video", "document": "send_document"}[kind]
    typed = InlineKeyboardMarkup.model_validate(markup) if markup is not None else None

    async def call(bot: Bot, _previous: int | None) -> int:
        send = getattr(bot, method)
        message = await send(
            chat_id,
            file_id,
            caption=caption,
            parse_mode=HTML,
            message_thread_id=thread_id,
            reply_markup=typed,
        )
        return int(message.message_id)

    return Step(method, call)


def _send_album(chat_id: int, items: list[dict[str, Any]], thread_id: int | None) -> Step:
    media = [
        _INPUT_MEDIA[item["type"]](
            media=item["media"], caption=item.get("caption"), parse_mode=HTML
        )
        for item in items
    ]

    async def call(bot: Bot, _previous: int | None) -> int:
        messages = await bot.send_media_group(chat_id, media, message_thread_id=thread_id)
        return messages[0].message_id

    return Step("sendMediaGroup", call)


def _reply(message_id: int | None) -> dict[str, Any] | None:
    # A plain group has no topics: a case's messages reply to its card instead.
    if message_id is None:
        return None
    return {"message_id": message_id, "allow_sending_without_reply": True}


def _plan_copy(p: dict[str, Any]) -> list[Step]:
    """A message of one chat re-sent by the bot into another (customer ↔ agents' topic)."""
    chat_id: int = p["chat_id"]
    params = {
        "chat_id": chat_id,
        "from_chat_id": p["from_chat_id"],
        "message_id": p["message_id"],
        "message_thread_id": p.get("message_thread_id"),
        "reply_parameters": _reply(p.get("reply_to")),
    }
    if p.get("caption") is not None:
        params |= {"caption": p["caption"], "parse_mode": HTML}

    async def call(bot: Bot, _previous: int | None) -> int:
        message = await json_calls.call(bot, "copyMessage", params)
        return int(message["message_id"])

    return [Step("copyMessage", call)]


# --- forum topics -------------------------------------------------------------------------


def _plan_create_topic(p: dict[str, Any]) -> list[Step]:
    chat_id: int = p["chat_id"]
    name: str = p["name"].strip() or "-"
    if len(name) > MAX_TOPIC_NAME:
        name = name[: MAX_TOPIC_NAME - 1] + "…"
    icon_color: int | None = p.get("icon_color")

    async def call(bot: Bot, _previous: int | None) -> int:
        topic = await bot.create_forum_topic(chat_id, name, icon_color=icon_color)
        # The row's telegram_message_id then holds the new topic's message_thread_id.
        return topic.message_thread_id

    return [Step("createForumTopic", call)]


def _plan_topic_state(p: dict[str, Any]) -> list[Step]:
    """Close or reopen a case's topic (a closed case's topic is closed; news reopens it)."""
    chat_id: int = p["chat_id"]
    thread_id = p.get("message_thread_id")
    method = "closeForumTopic" if p.get("closed") else "reopenForumTopic"

    async def call(bot: Bot, _previous: int | None) -> None:
        if not thread_id:
            return  # a plain group: no topics to close
        try:
            await json_calls.call(bot, method, {"chat_id": chat_id, "message_thread_id": thread_id})
        except TelegramBadRequest as error:
            if "TOPIC_NOT_MODIFIED" not in error.message:
                raise

    return [Step(method, call, flood_limited=False)]


def _plan_chart(p: dict[str, Any]) -> list[Step]:
    from bot.reports.send import plan_chart  # a report's picture (matplotlib only when asked)

    return plan_chart(p)


_PLANNERS: dict[str, Callable[[dict[str, Any]], list[Step]]] = {
    "message": _plan_message,
    "callback_answer": _plan_callback_answer,
    "photo": _plan_photo,
    "chart": _plan_chart,
    "media_group": _plan_media_group,
    "create_topic": _plan_create_topic,
    "copy": _plan_copy,
    "topic_state": _plan_topic_state,
}


# --- splitting long HTML ------------------------------------------------------------------

# A tag, an entity or one character: the pieces a cut may fall between, never inside.
_ATOM = re.compile(r"<[^>]*>|&#?\w+;|.", re.DOTALL)
_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)")
_TAG_ANY = re.compile(r"<[^>]*>")


def split_html(text: str, limit: int) -> list[str]:
    """Cut Telegram HTML into parts of at most `limit` UTF-16 units, each well-formed.

    Parts end at newlines outside any tag (whole top-level lines). Only a single line longer
    than the limit is cut elsewhere: after a newline inside it if possible, else between two
    characters; the tags open there are closed and reopened in the next part. The raw HTML is
    measured, which is never shorter than the text Telegram counts.
    """
    if _units(text) <= limit:  # nearly always: what the loop below would give, cheaply
        whole = text.strip("\n")
        return [whole] if _visible(whole).strip() else []
    parts: list[str] = []
    current = ""
    for line in _top_level_lines(text):
        joined = f"{current}\n{line}" if current else line
        if _units(joined) <= limit:
            current = joined
            continue
        if current:
            parts.append(current)
        if _units(line) <= limit:
            current = line
        else:
            *full, current = _cut_line(line, limit)
            parts.extend(full)
    parts.append(current)
    return [part.strip("\n") for part in parts if _visible(part).strip()]


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _visible(html: str) -> str:
    return _TAG_ANY.sub("", html)  # the atoms that are not tags, as _ATOM would cut them


def _apply_tag(atom: str, stack: list[tuple[str, str]]) -> None:
    match = _TAG.match(atom)
    if match is None:
        return
    closing, name = match.group(1), match.group(2).lower()
    if not closing:
        stack.append((name, atom))
        return
    while stack:  # Telegram requires proper nesting, so this pops exactly one tag
        if stack.pop()[0] == name:
            break


def _top_level_lines(text: str) -> list[str]:
    lines: list[str] = []
    stack: list[tuple[str, str]] = []
    start = position = 0
    for atom in _ATOM.findall(text):
        if atom == "\n" and not stack:
            lines.append(text[start:position])
            start = position + 1
        elif atom.startswith("<"):
            _apply_tag(atom, stack)
        position += len(atom)
    lines.append(text[start:])
    return lines


def _closers(stack: list[tuple[str, str]]) -> str:
    return "".join(f"</{name}>" for name, _ in reversed(stack))


def _openers(stack: list[tuple[str, str]]) -> str:
    return "".join(raw for _, raw in stack)


def _cut_line(line: str, limit: int) -> list[str]:
    parts: list[str] = []
    stack: list[tuple[str, str]] = []
    prefix, body = "", []  # tags reopened at the start of this part, then its atoms
    size = 0
    newline: tuple[int, list[tuple[str, str]]] | None = None  # last cut after a newline
    for atom in _ATOM.findall(line):
        after = list(stack)
        if atom.startswith("<"):
            _apply_tag(atom, after)
        if body and size + _units(atom) + _units(_closers(after)) > limit:
            if newline is not None and newline[0] * 2 > len(body):
                cut, cut_stack = newline
            else:
                cut, cut_stack = len(body), list(stack)
            parts.append(prefix + "".join(body[:cut]) + _closers(cut_stack))
            prefix, body = _openers(cut_stack), body[cut:]
            size = _units(prefix) + sum(_units(a) for a in body)
            newline = None
        body.append(atom)
        size += _units(atom)
        stack = after
        if atom == "\n":
            newline = (len(body), list(stack))
    parts.append(prefix + "".join(body) + _closers(stack))
    return parts
