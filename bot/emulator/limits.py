"""Telegram's limits that the spec states only in prose: lengths, keyboard shape, parse modes."""

from __future__ import annotations

from typing import Any

from bot.emulator.errors import bad_request
from bot.emulator.html import parse_html, utf16_len
from bot.emulator.markdown import parse_markdown_v2

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER = 200
MAX_ROW_BUTTONS = 8
MAX_INLINE_BUTTONS = 100

# Exactly one of these must be set on an InlineKeyboardButton (besides text/style/emoji).
_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


def parse_entities(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None
) -> tuple[str, list[dict[str, Any]]]:
    if not parse_mode:
        return text, list(entities or [])
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        # Legacy Markdown is deprecated; keep the text as given rather than guess.
        return text, []
    raise bad_request(f"unsupported parse_mode {parse_mode!r}")


def trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram strips leading and trailing whitespace and clips the entities to what is left."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    start = utf16_len(text[: len(text) - len(text.lstrip())])
    end = start + utf16_len(stripped)
    clipped = []
    for entity in entities:
        lo = max(entity["offset"], start)
        hi = min(entity["offset"] + entity["length"], end)
        if hi > lo:
            clipped.append({**entity, "offset": lo - start, "length": hi - lo})
    return stripped, clipped


def message_text(params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    """The text of sendMessage/editMessageText after entity parsing, within 1..4096."""
    text, entities = trim(
        *parse_entities(params["text"], params.get("parse_mode"), params.get("entities"))
    )
    if not text:
        raise bad_request("message text is empty")
    if len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    return text, entities


def caption(params: dict[str, Any]) -> tuple[str | None, list[dict[str, Any]]]:
    if params.get("caption") is None:
        return None, []
    text, entities = trim(
        *parse_entities(params["caption"], params.get("parse_mode"), params.get("caption_entities"))
    )
    if len(text) > MAX_CAPTION:
        raise bad_request("message caption is too long")
    return text, entities


def check_reply_markup(markup: dict[str, Any] | None) -> None:
    if not markup or "inline_keyboard" not in markup:
        return
    rows = markup["inline_keyboard"]
    total = 0
    for r, row in enumerate(rows):
        if len(row) > MAX_ROW_BUTTONS:
            raise bad_request(f"too many buttons in row {r}: {len(row)} > {MAX_ROW_BUTTONS}")
        total += len(row)
        for c, button in enumerate(row):
            _check_button(button, f"inline_keyboard[{r}][{c}]")
    if total > MAX_INLINE_BUTTONS:
        raise bad_request(f"BUTTONS_TOO_MUCH: {total} inline buttons > {MAX_INLINE_BUTTONS}")


def _check_button(button: dict[str, Any], path: str) -> None:
    if not button["text"]:
        raise bad_request(f"{path}: button text must be non-empty")
    actions = [key for key in _BUTTON_ACTIONS if key in button]
    if len(actions) != 1:
        raise bad_request(
            f"can't parse inline keyboard button: {path} must have exactly one of "
            f"{', '.join(_BUTTON_ACTIONS)}; got {actions or 'none'}"
        )
    data = button.get("callback_data")
    if data is not None and not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
        raise bad_request(
            f"BUTTON_DATA_INVALID: {path}.callback_data must be 1-{MAX_CALLBACK_DATA_BYTES} "
            f"bytes, got {len(data.encode('utf-8'))}"
        )
