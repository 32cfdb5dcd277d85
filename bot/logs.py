"""Logging as `aftersales run` and the sandbox set it up.

`LOG_FORMAT=json` gives one JSON object a line (time, level, logger, message; `exc` with a
traceback). Either way the log carries no personal data: the bot's own lines never print a
message's text, and a phone number that reaches a line anyway (in an error text, say) is
masked to its last 4 digits.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# A phone as the bot stores it (E.164, +8613912345678) or as people write it (+86 139-1234-5678).
_PHONE = re.compile(r"\+\d[\d -]{5,18}\d")


def mask_phone(phone: str) -> str:
    """`+8613912345678` -> `+*********5678`: the last 4 digits, enough to tell numbers apart."""
    digits = re.sub(r"\D", "", phone)
    return "+" + "*" * max(0, len(digits) - 4) + digits[-4:]


def mask_phones(text: str) -> str:
    return _PHONE.sub(lambda m: mask_phone(m.group()), text)


class MaskPhones(logging.Filter):
    """Masks phone numbers in every record's message (its arguments included)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exc"] = mask_phones(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


def formatter(form: str = "text") -> logging.Formatter:
    return JsonLines() if form == "json" else logging.Formatter(FORMAT)


def setup(form: str = "text", level: int = logging.INFO) -> None:
    """The root logger to stderr in `form` ("text" or "json"), phones masked."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(form))
    handler.addFilter(MaskPhones())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    quiet_libraries()


def quiet_libraries() -> None:
    """transitions reports every state entry and exit at INFO: two lines per customer step,
    which buried the bot's own lines and took about 3 % of its time under load (cProfile).
    The case and conversation rows already record what happened."""
    logging.getLogger("transitions").setLevel(logging.WARNING)
