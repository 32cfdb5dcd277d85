"""Split an order file (JSON array or JSON Lines) into records, keeping each record's line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RawRecord:
    line: int  # 1-based line where the record starts
    value: Any


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    line: int
    message: str


def read_records(text: str) -> Iterator[RawRecord | SyntaxProblem]:
    """A JSON array when the first non-blank character is `[`, JSON Lines otherwise."""
    text = text.removeprefix("\ufeff")
    start = _skip_ws(text, 0)
    if start < len(text) and text[start] == "[":
        yield from _read_array(text, start)
    else:
        yield from _read_lines(text)


def _read_lines(text: str) -> Iterator[RawRecord | SyntaxProblem]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield RawRecord(number, json.loads(line))
        except json.JSONDecodeError as exc:
            yield SyntaxProblem(number, f"{exc.msg} (column {exc.colno})")


def _read_array(text: str, start: int) -> Iterator[RawRecord | SyntaxProblem]:
    """Decode element by element so every record knows its own line.

    After a syntax error the rest of the array cannot be delimited reliably, so reading stops.
    """
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, start + 1)
    if pos < len(text) and text[pos] == "]":
        yield from _trailing(text, pos + 1)
        return
    while True:
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield SyntaxProblem(exc.lineno, f"{exc.msg} (column {exc.colno})")
            return
        yield RawRecord(_line_of(text, pos), value)
        pos = _skip_ws(text, end)
        if pos >= len(text):
            yield SyntaxProblem(_line_of(text, pos), "unterminated array: expected ']'")
            return
        if text[pos] == "]":
            yield from _trailing(text, pos + 1)
            return
        if text[pos] != ",":
            yield SyntaxProblem(_line_of(text, pos), "expected ',' or ']' after a record")
            return
        pos = _skip_ws(text, pos + 1)


def _trailing(text: str, pos: int) -> Iterator[SyntaxProblem]:
    pos = _skip_ws(text, pos)
    if pos < len(text):
        yield SyntaxProblem(_line_of(text, pos), "extra data after the array")


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1
