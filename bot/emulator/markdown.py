"""Telegram's parse_mode=MarkdownV2 (the common subset; offsets in UTF-16 code units).

Supported: *bold* _italic_ __underline__ ~strike~ ||spoiler|| `code` ```pre``` [text](url)
and ">" blockquote lines. Reserved characters outside entities must be escaped with "\\".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.emulator.errors import ApiError, bad_request
from bot.emulator.html import utf16_len

RESERVED = set("_*[]()~`>#+-=|{}.!")
_MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}


def _error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


def parse_markdown_v2(source: str) -> tuple[str, list[dict[str, Any]]]:
    out: list[str] = []
    out_len = 0
    entities: list[dict[str, Any]] = []
    stack: list[tuple[str, int, int]] = []  # marker, output offset, byte offset
    i, n = 0, len(source)
    line_start = True
    quote_start: int | None = None

    def byte_offset(pos: int) -> int:
        return len(source[:pos].encode("utf-8"))

    def emit(text: str) -> None:
        nonlocal out_len
        out.append(text)
        out_len += utf16_len(text)

    while i < n:
        c = source[i]
        if line_start and c == ">":
            if quote_start is None:
                quote_start = out_len
            i += 1
            line_start = False
            continue
        if line_start and quote_start is not None:
            _close_quote(entities, quote_start, out_len, out)
            quote_start = None
        line_start = c == "\n"
        if c == "\\":
            if i + 1 < n and source[i + 1] not in "\n":
                emit(source[i + 1])
                i += 2
                continue
            raise _error("Character '\\' is reserved and must be escaped with the preceding '\\'")
        if c == "`":
            i = _code(source, i, emit, entities, lambda: out_len, byte_offset)
            continue
        if c == "[":
            close = _find_unescaped(source, i + 1, "]")
            if close == -1 or close + 1 >= n or source[close + 1] != "(":
                raise _error(
                    f"Can't find end of the entity starting at byte offset {byte_offset(i)}"
                )
            url_end = _find_unescaped(source, close + 2, ")")
            if url_end == -1:
                raise _error(
                    f"Can't find end of the entity starting at byte offset {byte_offset(i)}"
                )
            inner_text, inner_entities = parse_markdown_v2(source[i + 1 : close])
            start = out_len
            emit(inner_text)
            for entity in inner_entities:
                entities.append({**entity, "offset": entity["offset"] + start})
            url = source[close + 2 : url_end].replace("\\)", ")").replace("\\\\", "\\")
            if out_len > start:
                entities.append(
                    {"type": "text_link", "offset": start, "length": out_len - start, "url": url}
                )
            i = url_end + 1
            continue
        marker = source[i : i + 2] if source[i : i + 2] in ("__", "||") else c
        if marker in _MARKERS:
            if stack and stack[-1][0] == marker:
                _, start, _ = stack.pop()
                if out_len > start:
                    entities.append(
                        {"type": _MARKERS[marker], "offset": start, "length": out_len - start}
                    )
            elif any(m == marker for m, _, _ in stack):
                name = _MARKERS[marker].title()
                raise _error(f"Can't find end of {name} entity at byte offset {byte_offset(i)}")
            else:
                stack.append((marker, out_len, byte_offset(i)))
            i += len(marker)
            continue
        if c in RESERVED:
            raise _error(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        emit(c)
        i += 1
    if quote_start is not None:
        _close_quote(entities, quote_start, out_len, out)
    if stack:
        marker, _, offset = stack[-1]
        raise _error(f"Can't find end of {_MARKERS[marker].title()} entity at byte offset {offset}")
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def _close_quote(entities: list[dict[str, Any]], start: int, end: int, out: list[str]) -> None:
    # The newline that ends the quote is not part of it.
    length = end - start - (1 if out and out[-1] == "\n" else 0)
    if length > 0:
        entities.append({"type": "blockquote", "offset": start, "length": length})


def _find_unescaped(source: str, start: int, char: str) -> int:
    i = start
    while i < len(source):
        if source[i] == "\\":
            i += 2
            continue
        if source[i] == char:
            return i
        i += 1
    return -1


def _code(
    source: str,
    i: int,
    emit: Callable[[str], None],
    entities: list[dict[str, Any]],
    position: Callable[[], int],
    byte_offset: Callable[[int], int],
) -> int:
    fence = "```" if source.startswith("```", i) else "`"
    body_start = i + len(fence)
    language = ""
    if fence == "```":
        newline = source.find("\n", body_start)
        first_line = source[body_start:newline] if newline != -1 else ""
        if newline != -1 and first_line and " " not in first_line and "`" not in first_line:
            language = first_line
            body_start = newline + 1
    end = source.find(fence, body_start)
    while end != -1 and source[end - 1] == "\\":
        end = source.find(fence, end + 1)
    if end == -1:
        raise _error(f"Can't find end of the entity starting at byte offset {byte_offset(i)}")
    start = position()
    emit(source[body_start:end].replace("\\`", "`").replace("\\\\", "\\"))
    if position() > start:
        entity: dict[str, Any] = {
            "type": "pre" if fence == "```" else "code",
            "offset": start,
            "length": position() - start,
        }
        if language:
            entity["language"] = language
        entities.append(entity)
    return end + len(fence)
