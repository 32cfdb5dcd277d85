"""The carriers a customer (or the shop) can name for a parcel, and what their numbers look like.

Data, not code: each carrier's waybill number format as a regular expression with an example
that matches it, shown to a customer whose number does not. The formats are those the carriers
print on their labels (SF: "SF" and 12–13 digits; JD: "JD" and letters and digits; EMS and China
Post: the UPU's two letters, nine digits, two letters, or their domestic 13 digits; YTO: "YT" and
13–15 digits; ZTO, STO, Yunda, Best: 12–15 digits). "other" takes any 6–30 letters and digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Carrier:
    code: str
    name: dict[str, str]  # by locale
    pattern: re.Pattern[str]
    example: str


def _c(code: str, zh: str, en: str, pattern: str, example: str) -> Carrier:
    carrier = Carrier(code, {"zh": zh, "en": en}, re.compile(pattern), example)
    assert carrier.pattern.fullmatch(example), code  # the example must pass its own check
    return carrier


CARRIERS: tuple[Carrier, ...] = (
    _c("sf", "顺丰速运", "SF Express", r"SF\d{12,13}|\d{12}", "SF1234567890123"),
    _c("jd", "京东物流", "JD Logistics", r"JD[0-9A-Z]{11,16}", "JDVA12345678901"),
    _c("ems", "EMS", "EMS", r"[A-Z]{2}\d{9}[A-Z]{2}|1\d{12}", "EA123456789CN"),
    _c("chinapost", "中国邮政", "China Post", r"[A-Z]{2}\d{9}[A-Z]{2}|9\d{12}", "9812345678901"),
    _c("yto", "圆通速递", "YTO Express", r"YT\d{13,15}", "YT1234567890123"),
    _c("zto", "中通快递", "ZTO Express", r"[1-9]\d{11,14}", "751234567890123"),
    _c("sto", "申通快递", "STO Express", r"[1-9]\d{11,14}", "773123456789012"),
    _c("yunda", "韵达快递", "Yunda Express", r"[1-9]\d{12,14}", "4312345678901"),
    _c("best", "百世快递", "Best Express", r"[1-9A-Z]\d{11,14}", "551234567890123"),
    _c("other", "其他快递", "Other carrier", r"[0-9A-Z]{6,30}", "AB12345678"),
)
BY_CODE = {c.code: c for c in CARRIERS}


def normalise(number: str) -> str:
    """As printed and as typed differ: spaces, dashes and letter case do not count."""
    return re.sub(r"[\s\-_]", "", number).upper()[:64]


def carrier(code: str | None) -> Carrier | None:
    return BY_CODE.get((code or "").strip().lower())


def check(code: str, number: str) -> str | None:
    """The number, normalised, if it has the carrier's format; else None."""
    found = carrier(code)
    value = normalise(number)
    if found is None or not found.pattern.fullmatch(value):
        return None
    return value
