"""Signed deep links: `https://t.me/<bot>?start=<token>` opens a request for one order.

The token carries the order number, the day it stops working and an HMAC of both, so nobody
can make a working link for an order they were not sent, walk order numbers, or keep using a
link past its time. It only opens the order for its own customer (the conversation checks
ownership after identification). Telegram allows 64 characters of [A-Za-z0-9_-] in a start
parameter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

MAX_START_PARAMETER = 64
DEFAULT_TTL_DAYS = 30
_PREFIX = "e"
_DAY_CHARS = 4  # the last valid day, in hex days since 1970 (good until the year 2149)
_SIG_BYTES = 12
_SIG_CHARS = 16  # 12 bytes in base64 without padding
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class LinkSigner:
    def __init__(self, secret: str, ttl_days: int = DEFAULT_TTL_DAYS) -> None:
        self._key = secret.encode("utf-8")
        self.ttl_days = ttl_days

    def token(self, order_no: str, now: datetime) -> str:
        """A token valid until the end of the (UTC) day `ttl_days` after `now`."""
        last_day = (now - _EPOCH).days + self.ttl_days
        body = _b64(order_no.encode("utf-8"))
        token = f"{_PREFIX}{last_day:0{_DAY_CHARS}x}{body}{_b64(self._sig(order_no, last_day))}"
        if len(token) > MAX_START_PARAMETER:
            raise ValueError(f"order number too long for a deep link: {order_no}")
        return token

    def order_no(self, token: str, now: datetime) -> str | None:
        """The order number a token was signed for, or None if it is not one of ours or has
        expired (the same answer: a caller cannot tell them apart)."""
        head = 1 + _DAY_CHARS
        if not token.startswith(_PREFIX) or len(token) <= head + _SIG_CHARS:
            return None
        # base64url uses "_" and "-" itself, so the signature is found by its fixed length.
        day, body, sig = token[1:head], token[head:-_SIG_CHARS], token[-_SIG_CHARS:]
        try:
            last_day = int(day, 16)
            order_no = _unb64(body).decode("utf-8")
            given = _unb64(sig)
        except (ValueError, UnicodeDecodeError):
            return None
        if not hmac.compare_digest(given, self._sig(order_no, last_day)):
            return None
        return order_no if (now - _EPOCH).days <= last_day else None

    def url(self, bot_username: str, order_no: str, now: datetime) -> str:
        return f"https://t.me/{bot_username}?start={self.token(order_no, now)}"

    def expires(self, now: datetime) -> datetime:
        """When a token made now stops working."""
        last_day = (now - _EPOCH).days + self.ttl_days
        return _EPOCH + timedelta(days=last_day + 1)

    def _sig(self, order_no: str, last_day: int) -> bytes:
        message = f"{order_no}|{last_day}".encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()[:_SIG_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    if "=" in text:
        raise ValueError("padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
