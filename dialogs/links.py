"""Signed deep links: `https://t.me/<bot>?start=<token>` opens a request for one order.

The token carries the order number and an HMAC of it, so nobody can make a working link for an
order they were not sent, nor walk order numbers. It only opens the order for its own customer
(the conversation checks ownership after identification). Telegram allows 64 characters of
[A-Za-z0-9_-] in a start parameter.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

MAX_START_PARAMETER = 64
_SIG_BYTES = 12
_SIG_CHARS = 16  # 12 bytes in base64 without padding


class LinkSigner:
    def __init__(self, secret: str) -> None:
        self._key = secret.encode("utf-8")

    def token(self, order_no: str) -> str:
        body = _b64(order_no.encode("utf-8"))
        token = f"o{body}{_b64(self._sig(order_no))}"
        if len(token) > MAX_START_PARAMETER:
            raise ValueError(f"order number too long for a deep link: {order_no}")
        return token

    def order_no(self, token: str) -> str | None:
        """The order number a token was signed for, or None if it is not one of ours."""
        # base64url uses "_" and "-" itself, so the signature is found by its fixed length.
        if not token.startswith("o") or len(token) <= 1 + _SIG_CHARS:
            return None
        body, sig = token[1:-_SIG_CHARS], token[-_SIG_CHARS:]
        try:
            order_no = _unb64(body).decode("utf-8")
            given = _unb64(sig)
        except (ValueError, UnicodeDecodeError):
            return None
        return order_no if hmac.compare_digest(given, self._sig(order_no)) else None

    def url(self, bot_username: str, order_no: str) -> str:
        return f"https://t.me/{bot_username}?start={self.token(order_no)}"

    def _sig(self, order_no: str) -> bytes:
        return hmac.new(self._key, order_no.encode("utf-8"), hashlib.sha256).digest()[:_SIG_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    if "=" in text:
        raise ValueError("padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
