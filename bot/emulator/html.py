"""Telegram's parse_mode=HTML: a port of the rules of tdlib's parse_html.

Entity offsets and lengths are in UTF-16 code units (as Telegram reports them); error offsets
are in UTF-8 bytes, as in Telegram's "can't parse entities" messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.emulator.errors import ApiError, bad_request

_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_ALLOWED = {*_SIMPLE_TAGS, "a", "span", "tg-emoji", "tg-time"}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]+));")
_SPACE = " \t\r\n"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass(slots=True)
class _Open:
    tag: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the output text
    children: list[str] = field(default_factory=list)


def _error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


class _Parser:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.out: list[str] = []
        self.out_len = 0  # UTF-16 length of the output so far
        self.stack: list[_Open] = []
        self.entities: list[dict[str, Any]] = []

    def byte_offset(self, pos: int) -> int:
        return len(self.src[:pos].encode("utf-8"))

    def emit(self, text: str) -> None:
        self.out.append(text)
        self.out_len += utf16_len(text)

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        src = self.src
        n = len(src)
        while self.pos < n:
            nxt = _next_special(src, self.pos)
            if nxt > self.pos:
                self.emit(src[self.pos : nxt])
                self.pos = nxt
                continue
            if src[self.pos] == "&":
                self.pos += self._entity(self.pos)
            elif self.pos + 1 < n and src[self.pos + 1] == "/":
                self._end_tag()
            else:
                self._start_tag()
        if self.stack:
            raise _error(f'Can\'t find end tag corresponding to start tag "{self.stack[-1].tag}"')
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def _entity(self, pos: int, sink: list[str] | None = None) -> int:
        match = _ENTITY_RE.match(self.src, pos)
        text = "&"
        size = 1
        if match:
            dec, hexa, name = match.groups()
            code = int(dec) if dec else int(hexa, 16) if hexa else None
            if code is not None and 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
                text, size = chr(code), match.end() - pos
            elif name in _NAMED_ENTITIES:
                text, size = _NAMED_ENTITIES[name], match.end() - pos
        # An unknown "&name;" stays literal text, like in Telegram.
        if sink is None:
            self.emit(text)
        else:
            sink.append(text)
        return size

    def _start_tag(self) -> None:
        src, begin = self.src, self.pos
        i = begin + 1
        while i < len(src) and src[i] not in _SPACE and src[i] != ">":
            i += 1
        if i >= len(src):
            raise _error(f"Unclosed start tag at byte offset {self.byte_offset(begin)}")
        tag = src[begin + 1 : i].lower()
        if tag not in _ALLOWED:
            raise _error(f'Unsupported start tag "{tag}" at byte offset {self.byte_offset(begin)}')
        attrs: dict[str, str] = {}
        while True:
            while i < len(src) and src[i] in _SPACE:
                i += 1
            if i >= len(src):
                raise _error(f"Unclosed start tag at byte offset {self.byte_offset(i)}")
            if src[i] == ">":
                break
            i = self._attribute(tag, i, attrs)
        self.pos = i + 1
        self._open(tag, attrs, begin)

    def _attribute(self, tag: str, i: int, attrs: dict[str, str]) -> int:
        src = self.src
        start = i
        while i < len(src) and src[i] not in _SPACE and src[i] not in "=>":
            i += 1
        name = src[start:i].lower()
        if not name:
            raise _error(
                f'Empty attribute name in the tag "{tag}" at byte offset {self.byte_offset(i)}'
            )
        while i < len(src) and src[i] in _SPACE:
            i += 1
        if i < len(src) and src[i] != "=":
            # Valueless attributes (<blockquote expandable>) are accepted.
            attrs[name] = ""
            return i
        if i >= len(src):
            raise _error(f"Unclosed start tag at byte offset {self.byte_offset(i)}")
        i += 1
        while i < len(src) and src[i] in _SPACE:
            i += 1
        if i >= len(src):
            raise _error(f"Unclosed start tag at byte offset {self.byte_offset(i)}")
        value: list[str] = []
        if src[i] in "\"'":
            quote = src[i]
            i += 1
            while i < len(src) and src[i] != quote:
                if src[i] == "&":
                    i += self._entity(i, value)
                else:
                    value.append(src[i])
                    i += 1
            if i >= len(src):
                raise _error(f"Unclosed start tag at byte offset {self.byte_offset(i)}")
            i += 1
        else:
            while i < len(src) and (src[i].isalnum() or src[i] in ".-_"):
                value.append(src[i])
                i += 1
        attrs[name] = "".join(value)
        return i

    def _open(self, tag: str, attrs: dict[str, str], begin: int) -> None:
        if tag == "span" and attrs.get("class") != "tg-spoiler":
            raise _error(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self.byte_offset(begin)}'
            )
        if tag == "tg-emoji" and not attrs.get("emoji-id", "").isdigit():
            raise _error(f"Invalid custom emoji identifier specified at {self.byte_offset(begin)}")
        self.stack.append(_Open(tag, attrs, self.out_len))

    def _end_tag(self) -> None:
        src, begin = self.src, self.pos
        if not self.stack:
            raise _error(f"Unexpected end tag at byte offset {self.byte_offset(begin)}")
        i = begin + 2
        while i < len(src) and src[i] not in _SPACE and src[i] != ">":
            i += 1
        name = src[begin + 2 : i].lower()
        while i < len(src) and src[i] in _SPACE:
            i += 1
        if i >= len(src) or src[i] != ">":
            raise _error(f"Unclosed end tag at byte offset {self.byte_offset(begin)}")
        top = self.stack[-1]
        if name and name != top.tag:
            raise _error(
                f"Unmatched end tag at byte offset {self.byte_offset(begin)}, "
                f'expected "</{top.tag}>", found "</{name}>"'
            )
        self.pos = i + 1
        self.stack.pop()
        self._close(top)

    def _close(self, top: _Open) -> None:
        length = self.out_len - top.start
        if length == 0:  # Telegram drops empty entities
            return
        entity: dict[str, Any] = {"offset": top.start, "length": length}
        if top.tag == "a":
            href = top.attrs.get("href", "")
            if href.startswith("tg://user?id="):
                user_id = int(href[13:]) if href[13:].isdigit() else 0
                entity.update(
                    type="text_mention", user={"id": user_id, "is_bot": False, "first_name": ""}
                )
            else:
                entity.update(type="text_link", url=href)
        elif top.tag == "span":
            entity["type"] = "spoiler"
        elif top.tag == "tg-emoji":
            entity.update(type="custom_emoji", custom_emoji_id=top.attrs["emoji-id"])
        elif top.tag == "tg-time":
            entity.update(type="date_time", unix_time=int(top.attrs.get("unix", "0") or 0))
        elif top.tag == "code" and self.stack and self.stack[-1].tag == "pre":
            # <pre><code class="language-x"> is one pre entity with a language; Telegram
            # never nests code inside pre.
            language = top.attrs.get("class", "")
            if language.startswith("language-") and len(language) > 9:
                self.stack[-1].attrs["language"] = language[9:]
            return
        elif top.tag == "pre":
            entity["type"] = "pre"
            if top.attrs.get("language"):
                entity["language"] = top.attrs["language"]
        elif top.tag == "blockquote":
            expandable = "expandable" in top.attrs
            entity["type"] = "expandable_blockquote" if expandable else "blockquote"
        else:
            entity["type"] = _SIMPLE_TAGS[top.tag]
        self.entities.append(entity)


def _next_special(src: str, pos: int) -> int:
    lt = src.find("<", pos)
    amp = src.find("&", pos)
    candidates = [p for p in (lt, amp) if p != -1]
    return min(candidates) if candidates else len(src)


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Return the plain text and its MessageEntity dicts, or raise "can't parse entities"."""
    if "<" not in source and "&" not in source:
        return source, []
    return _Parser(source).parse()
