"""How the sandbox shows the bot's messages in a terminal.

The emulator has already parsed the bot's HTML into plain text plus entities (with entities
unescaped), exactly what a Telegram client renders; styling is applied from those entities, so
what you see is what a phone would show, minus fonts. ANSI codes only when writing to a TTY.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.emulator.state import SentMessage

BOT = "🤖 "
INDENT = "   "  # the width of BOT: continuation lines line up with the first
# entity type -> SGR code (bold, italic, underline, strikethrough, cyan for code, dim spoiler)
SGR = {
    "bold": "1",
    "italic": "3",
    "underline": "4",
    "strikethrough": "9",
    "code": "36",
    "pre": "36",
    "text_link": "4",
    "spoiler": "2",
}


@dataclass(frozen=True, slots=True)
class Style:
    ansi: bool

    def wrap(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.ansi else text

    def dim(self, text: str) -> str:
        return self.wrap(text, "2")


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button the person can press by its number."""

    message: SentMessage
    callback_data: str
    label: str


def styled_text(text: str, entities: list[dict[str, Any]], style: Style) -> str:
    """`text` with its entities as ANSI (or plain), links followed by their address."""
    index = _utf16_index(text)
    codes: list[set[str]] = [set() for _ in text]
    links: dict[int, list[str]] = {}
    for entity in entities:
        start = index.get(entity["offset"], len(text))
        end = index.get(entity["offset"] + entity["length"], len(text))
        code = SGR.get(entity["type"])
        if code and style.ansi:
            for position in range(start, end):
                codes[position].add(code)
        url = entity.get("url")
        if entity["type"] == "text_link" and url and url != text[start:end]:
            links.setdefault(end, []).append(f" ({url})")
    out: list[str] = []
    active: set[str] = set()
    for position, char in enumerate(text):
        out.extend(links.get(position, []))
        if codes[position] != active:
            out.append("\x1b[0m" if active else "")
            if codes[position]:
                out.append("\x1b[" + ";".join(sorted(codes[position])) + "m")
            active = codes[position]
        out.append(char)
    if active:
        out.append("\x1b[0m")
    out.extend(links.get(len(text), []))
    return "".join(out)


def _utf16_index(text: str) -> dict[int, int]:
    """UTF-16 code unit offset (Telegram's unit) -> Python string index."""
    index: dict[int, int] = {}
    units = 0
    for position, char in enumerate(text):
        index[units] = position
        units += 2 if ord(char) > 0xFFFF else 1
    index[units] = len(text)
    return index


def render_message(
    message: SentMessage,
    style: Style,
    *,
    edited: bool = False,
    numbered: list[Button] | None = None,
) -> list[str]:
    """A bot message as terminal lines: text, inline buttons (numbered if pressable), keyboard."""
    body = styled_text(message.text or "", message.entities, style)
    if message.media_kind:
        body = f"[{message.media_kind}] {body}".rstrip()
    if edited:
        body = style.dim("(edited) ") + body
    lines = body.splitlines() or [""]
    out = [BOT + lines[0], *(INDENT + line for line in lines[1:])]
    out.extend(INDENT + row for row in _button_rows(message, style, numbered))
    keyboard = _reply_keyboard(message.reply_keyboard)
    if keyboard:
        out.append(INDENT + keyboard)
    return out


def button_lines(message: SentMessage, style: Style, numbered: list[Button]) -> list[str]:
    """Only the message's inline buttons, numbered (the text was shown before)."""
    return [INDENT + row for row in _button_rows(message, style, numbered)]


def _button_rows(message: SentMessage, style: Style, numbered: list[Button] | None) -> list[str]:
    numbers = {b.callback_data: i for i, b in enumerate(numbered or [], start=1)}
    rows = []
    for row in (message.reply_markup or {}).get("inline_keyboard", []):
        cells = []
        for button in row:
            label = button.get("text", "")
            if "url" in button:
                cells.append(f"[↗] {label} <{button['url']}>")
            elif button.get("callback_data") in numbers:
                cells.append(style.wrap(f"[{numbers[button['callback_data']]}]", "1") + " " + label)
            else:
                cells.append(style.dim("[-]") + " " + label)
        rows.append("  ".join(cells))
    return rows


def _reply_keyboard(markup: dict[str, Any] | None) -> str | None:
    if not markup or "keyboard" not in markup:
        return None
    cells = []
    for row in markup["keyboard"]:
        for button in row:
            label = button if isinstance(button, str) else button.get("text", "")
            hint = (
                " → type :contact"
                if isinstance(button, dict) and button.get("request_contact")
                else ""
            )
            cells.append(f"[{label}]{hint}")
    return "⌨ keyboard: " + "  ".join(cells)


def pressable(message: SentMessage) -> list[Button]:
    """The message's callback buttons in reading order (row by row)."""
    return [
        Button(message, b["callback_data"], b.get("text", ""))
        for b in message.buttons
        if "callback_data" in b
    ]


def toast(answer: dict[str, Any] | None) -> str | None:
    """A callback answer's pop-up text, as a line (None when the bot answered silently)."""
    if not answer or not answer.get("text"):
        return None
    mark = "⚠ alert: " if answer.get("show_alert") else "💬 "
    return INDENT + mark + answer["text"]
