"""One chat as the person at the keyboard follows it: the customer's private chat, a forum
topic of the agents' group, or the group's General chat.

A pane remembers which version of each bot message it has shown, so a look prints only what is
new or edited since the last one, and which buttons are numbered now.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.emulator.state import SentMessage
from bot.sandbox.view import (
    BOT,
    INDENT,
    Button,
    Style,
    button_lines,
    pressable,
    render_message,
)


class Pane:
    def __init__(self, style: Style, messages: Callable[[], list[SentMessage]]) -> None:
        self.style = style
        self._messages = messages  # the bot's messages here, oldest first, deleted ones too
        self.buttons: list[Button] = []
        self._seen: dict[int, tuple[Any, ...]] = {}
        self._numbered: int | None = None
        self._group: set[int] = set()  # the messages whose buttons are numbered now

    def collect(self) -> list[str]:
        """New and edited bot messages since the last look; the buttons to press now."""
        messages = self._messages()
        latest = next((m for m in reversed(messages) if not m.deleted and pressable(m)), None)
        # Every message with buttons that arrived (or changed) since the last look can be
        # pressed, as in Telegram: the waybill button above a "Main menu" too. Nothing new:
        # the same ones as before, while they stand; else the latest message's buttons.
        news = [m for m in messages if not m.deleted and pressable(m)
                and _is_news(m, self._seen.get(m.message_id))]  # fmt: skip
        kept = [m for m in messages if m.message_id in self._group and not m.deleted
                and pressable(m)]  # fmt: skip
        group = news or kept or ([latest] if latest else [])
        self.buttons = [b for m in group for b in pressable(m)]
        self._group = {m.message_id for m in group}
        lines: list[str] = []
        shown_latest = False
        for message in messages:
            shown = self._changes(message, latest)
            shown_latest = shown_latest or (bool(shown) and message is latest)
            lines.extend(shown)
        latest_id = latest.message_id if latest else None
        if latest is not None and latest_id != self._numbered and not shown_latest:
            first = (latest.text or "").strip().splitlines()[:1]
            under = f" (under: {_shortened(first[0])})" if first else ""
            lines.append(self.style.dim(f"{INDENT}buttons to press now{under}"))
            lines.extend(button_lines(latest, self.style, self.buttons))
        self._numbered = latest_id
        return lines

    def news(self) -> int:
        """How many messages the next look would print (new or edited), without looking."""
        return sum(_is_news(m, self._seen.get(m.message_id)) for m in self._messages())

    @property
    def looked(self) -> bool:
        """Whether a look has shown anything here yet."""
        return bool(self._seen)

    def has_seen(self, message: SentMessage) -> bool:
        return message.message_id in self._seen

    def reopen(self) -> None:
        """Coming back: the next look shows the buttons to press again, even if not new."""
        self._numbered = None

    def _changes(self, message: SentMessage, latest: SentMessage | None) -> list[str]:
        old = self._seen.get(message.message_id)
        self._seen[message.message_id] = _key(message)
        if not _is_news(message, old):
            return []
        numbered = self.buttons if message.message_id in self._group else None
        if old is None:
            return render_message(message, self.style, numbered=numbered)
        if message.deleted:
            first = (message.text or "").splitlines()[:1]
            return [BOT + self.style.dim(f"(deleted: {first[0] if first else 'a message'})")]
        return render_message(message, self.style, edited=True, numbered=numbered)


def _shortened(line: str, width: int = 30) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"


def _key(message: SentMessage) -> tuple[Any, ...]:
    markup = json.dumps(message.reply_markup, sort_keys=True)
    return (len(message.history), message.text, markup, message.deleted)


def _is_news(message: SentMessage, old: tuple[Any, ...] | None) -> bool:
    if old is None:
        return not message.deleted  # deleted before anyone looked: nothing to read
    if old == _key(message):
        return False
    # Only its buttons went away after a press: nothing new to read.
    return message.deleted or message.text != old[1] or bool(pressable(message))
