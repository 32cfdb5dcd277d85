"""Phone numbers to E.164, the one form customers are stored and looked up by."""

from __future__ import annotations

import re

import phonenumbers

DEFAULT_REGION = "CN"
# Ofcom's drama range (07700 900000-900999) is fictional by design, so phonenumbers calls it
# invalid; demo data and tests use it on purpose.
UK_DRAMA_RE = re.compile(r"^\+447700900\d{3}$")


def to_e164(raw: str, *, international_first: bool = False) -> str | None:
    """E.164 for a valid number, else None.

    Numbers without "+" are read as Chinese national numbers; with `international_first`
    (Telegram contacts carry international digits without "+") they are tried as international
    first.
    """
    text = raw.strip()
    candidates = [text]
    if not text.startswith("+") and international_first:
        candidates.insert(0, "+" + text.lstrip("0"))
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, DEFAULT_REGION)
        except phonenumbers.NumberParseException:
            continue
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(number) or UK_DRAMA_RE.match(e164):
            return e164
    return None
