"""Both languages say everything: same templates, same variables, and they all render."""

from __future__ import annotations

import re
from datetime import datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from jinja2 import meta

from dialogs.texts import SUFFIX, Texts
from storage.domain import LOCALES

texts = Texts()


def _variables(locale: str, key: str) -> set[str]:
    env = texts._envs[locale]
    source = env.loader.get_source(env, key + SUFFIX)[0]  # type: ignore[union-attr]
    return meta.find_undeclared_variables(env.parse(source)) - {"locale"}


def test_every_template_exists_in_both_languages() -> None:
    keys = {loc: texts.keys(loc) for loc in LOCALES}
    assert keys["zh"] == keys["en"], {
        "only zh": keys["zh"] - keys["en"],
        "only en": keys["en"] - keys["zh"],
    }
    assert len(keys["zh"]) > 50


@pytest.mark.parametrize("key", sorted(texts.keys("zh")))
def test_both_languages_use_the_same_variables(key: str) -> None:
    assert _variables("zh", key) == _variables("en", key)


def test_values_are_escaped_for_telegram_html() -> None:
    html = texts.render("en", "identify/done", name="<b>Eve</b> & co")
    assert "&lt;b&gt;Eve&lt;/b&gt; &amp; co" in html
    assert "<b>Eve" not in html


def test_button_labels_are_plain_text() -> None:
    # Telegram shows button text verbatim, so labels must not carry HTML escapes.
    label = texts.plain("en", "labels/item", item=_Item("Tom & Jerry <DVD>", 1))
    assert label == "Tom & Jerry <DVD>"


def test_money_and_dates_follow_the_locale() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    env_zh, env_en = texts._envs["zh"], texts._envs["en"]
    assert env_zh.filters["money"](Decimal("3999"), "CNY") == "¥3,999.00"
    assert env_en.filters["money"](Decimal("3999"), "CNY") == "CN¥3,999.00"
    moment = datetime(2026, 10, 1, 16, 30, tzinfo=UTC)  # 2 October 00:30 in Shanghai
    assert re.search(r"2026年10月2日", env_zh.filters["date"](moment))
    assert "Oct 2, 2026" in env_en.filters["date"](moment)


class _Item:
    def __init__(self, name: str, quantity: int) -> None:
        self.name, self.quantity = name, quantity


# ---- the answer after submitting: each fact once, as a careful shop writes it ---------------

SHANGHAI = ZoneInfo("Asia/Shanghai")
SHIP_BY = datetime(2026, 12, 3, 23, 59, 59, 999000, tzinfo=SHANGHAI)  # end of a day: date only
REVIEW_BY = datetime(2026, 11, 30, 18, 0, tzinfo=SHANGHAI)
ANSWER_BY = datetime(2026, 11, 26, 14, 0, tzinfo=SHANGHAI)
RETURNS = {
    "zh": ("上海市浦东新区示例路 88 号", "售后部"),
    "en": ("88 Example Road, Pudong, Shanghai", "After-sales Dept."),
}
PHONE = "021-5555-0188"
CASE_NO = "AS-20261126-0001"
# One date format per language (texts.py); a time may follow it.
DATE = {"zh": r"\d{4}年\d{1,2}月\d{1,2}日", "en": r"[A-Z][a-z]{2} \d{1,2}, \d{4}"}
TIME = r"\d{1,2}:\d{2}"
PAYER_PHRASES = {
    "zh": ("由我们承担", "由您承担"),
    "en": ("We pay", "You pay", "at our expense", "at your expense"),
}


def _decided(locale: str, service: str, reason: str, **values: object) -> dict[str, object]:
    address, recipient = RETURNS[locale]
    base: dict[str, object] = {
        "case": SimpleNamespace(case_no=CASE_NO, service=service, reason=reason),
        "service": service,
        "explanation": texts.render(
            locale,
            "policy/approved",
            service=service,
            reason=reason,
            category="electronics",
            goods_back=True,
            shipping_paid_by="merchant",
            replacement_paid_by=None,
            return_method="drop_off",
            deadline=SHIP_BY,
        ),
        "deadline": SHIP_BY,
        "answer_by": None,
        "shipping_paid_by": "merchant",
        "replacement_paid_by": None,
        "goods_back": True,
        "address": address,
        "recipient": recipient,
        "phone": PHONE,
        "conditions": [],
        "person_asked": False,
        "exchange_for": None,
        "exchange_note": None,
    }
    return {**base, **values}


def _quality_return(locale: str) -> dict[str, object]:
    return _decided(locale, "return", "quality", conditions=["accessories_complete"])


def _size_exchange(locale: str) -> dict[str, object]:
    return _decided(
        locale, "exchange", "size_colour",
        shipping_paid_by="customer", replacement_paid_by="merchant",
        conditions=["unused", "packaging_intact", "tags_attached", "accessories_complete"],
        exchange_for="other_variant",
        exchange_note="加大码，深蓝色" if locale == "zh" else "XL, dark blue",
    )  # fmt: skip


def _to_a_person(locale: str, *, person_asked: bool = False) -> dict[str, object]:
    return _decided(
        locale, "return", "quality",
        explanation=texts.render(locale, "policy/needs_agent", service="return", reason="quality",
                                 category="electronics", cause="order_value",
                                 deadline=REVIEW_BY),
        deadline=REVIEW_BY, answer_by=ANSWER_BY, shipping_paid_by=None, goods_back=False,
        person_asked=person_asked,
    )  # fmt: skip


DECIDED = {
    "approved quality return": ("case/approve", _quality_return),
    "approved size exchange": ("case/approve", _size_exchange),
    "sent to a person": ("case/needs_agent", _to_a_person),
    "a person asked for": ("case/needs_agent", lambda loc: _to_a_person(loc, person_asked=True)),
}


def _datetime(locale: str, moment: datetime) -> str:
    return str(texts._envs[locale].filters["datetime"](moment))


def _moments(locale: str, text: str) -> list[str]:
    return re.findall(rf"{DATE[locale]}(?:,? {TIME}(?:\s?[AP]M)?)?", text)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(DECIDED))
def test_the_answer_after_submitting_says_each_fact_once(locale: str, case: str) -> None:
    key, values = DECIDED[case]
    text = str(texts.render(locale, key, **values(locale)))
    moments = _moments(locale, text)
    assert len(moments) == len(set(moments)) == 1, moments  # one deadline, said once
    assert len(re.findall(DATE[locale], text)) == 1, text  # no second date in other words
    for phrase in PAYER_PHRASES[locale]:
        assert text.count(phrase) <= 1, (phrase, text)
    address, recipient = RETURNS[locale]
    if key == "case/approve":
        for part in (address, recipient, PHONE):
            assert text.count(part) == 1, (part, text)
    else:  # nothing comes back yet: no address, and the promised answer-by time, not the review's
        assert address not in text and PHONE not in text
        assert moments == _moments(locale, _datetime(locale, ANSWER_BY))


def test_the_approval_gives_a_parcel_label_and_one_packing_sentence() -> None:
    zh = str(texts.render("zh", "case/approve", **_size_exchange("zh")))
    lines = zh.splitlines()
    assert "寄回地址：上海市浦东新区示例路 88 号" in lines
    assert "收件人：售后部" in lines
    assert f"电话：{PHONE}" in lines
    packing = [line for line in lines if "纸条" in line]
    assert len(packing) == 1 and packing[0].count("。") == 1  # one sentence
    assert f"售后单号 {CASE_NO}" in packing[0] and "配件" in packing[0] and "原包装" in packing[0]
    assert "换成：加大码，深蓝色" in lines
    assert "寄回运费由您承担，新商品寄给您的运费由我们承担。" in lines

    en = str(texts.render("en", "case/approve", **_size_exchange("en")))
    lines = en.splitlines()
    assert f"Address: {RETURNS['en'][0]}" in lines and f"Phone: {PHONE}" in lines
    [packing] = [line for line in lines if line.startswith("Please pack")]
    assert packing.count("make sure") <= 1 and packing.count(".") == 1, packing
    assert f"request number {CASE_NO}" in packing and "accessories" in packing
    assert "original packaging" in packing and "tags" in packing
    assert "Exchange for: XL, dark blue" in lines
    assert (
        "You pay the return postage; the replacement will be sent to you at our expense." in lines
    )


@pytest.mark.parametrize("case", sorted(DECIDED))
def test_a_chinese_customer_reads_no_english(case: str) -> None:
    key, values = DECIDED[case]
    text = str(texts.render("zh", key, **values("zh")))
    bare = re.sub(r"<code>.*?</code>|<[^>]+>|https?://\S+", "", text).replace(CASE_NO, "")
    assert not re.search(r"[A-Za-z]", bare), text
    address_lines = [line for line in text.splitlines() if line.startswith("寄回地址：")]
    assert all(not re.search(r"[A-Za-z]", line) for line in address_lines)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_policy_explanation_of_an_approval_stands_on_its_own(locale: str) -> None:
    # `aftersales policy check` shows it alone: the deadline and who pays are in it, once.
    text = str(texts.render(locale, "policy/approved", service="exchange", reason="size_colour",
                            category="apparel", goods_back=True, shipping_paid_by="customer",
                            replacement_paid_by="merchant", return_method="drop_off",
                            deadline=SHIP_BY))  # fmt: skip
    assert _moments(locale, text) == _moments(locale, _datetime(locale, SHIP_BY))
    assert any(p in text for p in PAYER_PHRASES[locale][:2])


CONDITIONS = ("unused", "packaging_intact", "accessories_complete", "tags_attached")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("condition", CONDITIONS)
def test_each_condition_is_asked_as_a_question(locale: str, condition: str) -> None:
    text = str(texts.render(locale, "conditions/ask", condition=condition, number=1, total=2))
    assert ("（1/2）" if locale == "zh" else "(1/2)") in text
    assert ("？" if locale == "zh" else "?") in text
    assert "_" not in text  # a question, not the condition's name
    assert "is it true" not in text.lower() and "请确认" not in text


def test_a_missing_condition_is_explained_by_the_answer_given() -> None:
    values = {"service": "return", "reason": "no_reason", "category": "apparel",
              "conditions": ["accessories_complete"], "alternatives": ["exchange"]}  # fmt: skip
    en = str(texts.render("en", "policy/conditions_missing", **values))
    assert en == (
        "You answered that not all accessories are included, so a return is not possible; "
        "you can choose an exchange instead."
    )
    zh = str(texts.render("zh", "policy/conditions_missing", **values))
    assert zh == "您表示配件不齐全，所以现在无法办理退货；您可以改为申请换货。"


INTERNAL_WORDS = ("政策预审", "policy check", "escalation", "规则", "needs_agent", " rule")


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case", sorted(DECIDED))
def test_no_internal_words_reach_a_customer(locale: str, case: str) -> None:
    key, values = DECIDED[case]
    text = str(texts.render(locale, key, **values(locale))).lower()
    assert not [w for w in INTERNAL_WORDS if w.lower() in text]
