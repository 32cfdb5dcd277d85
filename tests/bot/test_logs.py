"""Logs: JSON lines on request (LOG_FORMAT=json), and phones masked either way."""

from __future__ import annotations

import json
import logging

from bot.logs import MaskPhones, formatter, mask_phone, mask_phones


def _record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    info = None
    if exc:
        try:
            raise ValueError("boom +8613912345678")
        except ValueError:
            import sys

            info = sys.exc_info()
    return logging.LogRecord("bot.test", logging.INFO, __file__, 1, msg, args, info)


def test_a_phone_keeps_its_last_four_digits():
    assert mask_phone("+8613912345678") == "+*********5678"
    assert mask_phones("customer +86 139-1234-5678 asked") == "customer +*********5678 asked"
    # Ids and counts are not phones: only numbers written as phones (a leading +) are masked.
    assert mask_phones("chat -1001234567890, update 123456789") == (
        "chat -1001234567890, update 123456789"
    )


def test_the_filter_masks_arguments_too():
    record = _record("identified %s as %s", "+447700900123", "Alice")
    assert MaskPhones().filter(record)
    assert record.getMessage() == "identified +********0123 as Alice"


def test_json_lines():
    line = json.loads(formatter("json").format(_record("sent %d rows", 3)))
    assert set(line) == {"time", "level", "logger", "message"}
    assert (line["level"], line["logger"], line["message"]) == ("INFO", "bot.test", "sent 3 rows")
    assert line["time"].endswith("+00:00")


def test_json_lines_carry_the_traceback_masked():
    line = json.loads(formatter("json").format(_record("failed", exc=True)))
    assert "ValueError: boom +*********5678" in line["exc"]


def test_text_is_the_default():
    text = formatter().format(_record("hello"))
    assert text.endswith("INFO bot.test: hello")
