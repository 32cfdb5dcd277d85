"""The FAQ: the shipped file, matching in both languages, and every way a FAQ file can be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from dialogs.faq import DEFAULT_FAQ, Faq, FaqEntry, FaqError


@pytest.fixture(scope="module")
def faq() -> Faq:
    # Module scope: loading segments every entry (and jieba's dictionary once per process).
    return Faq.load(DEFAULT_FAQ)


def ids(entries: list[FaqEntry]) -> list[str]:
    return [entry.id for entry in entries]


def top(faq: Faq, text: str, locale: str = "zh") -> str | None:
    found = faq.match(text, locale)
    return found[0].id if found else None


# ----------------------------------------------------------------------------- the shipped file


def test_default_file_is_at_the_project_root() -> None:
    project_root = Path(__file__).resolve().parents[2]
    assert project_root / "faq" / "default.yaml" == DEFAULT_FAQ
    assert DEFAULT_FAQ.read_text(encoding="utf-8").startswith("#")


def test_default_faq_loads_with_both_languages_everywhere(faq: Faq) -> None:
    assert 12 <= len(faq.entries) <= 15
    assert len({entry.id for entry in faq.entries}) == len(faq.entries)
    for entry in faq.entries:
        assert entry.id == entry.id.lower()
        for texts in (entry.question, entry.answer):
            assert set(texts) == {"zh", "en"}, entry.id
            assert all(text.strip() for text in texts.values()), entry.id
        # Plain text: the caller escapes it for HTML, so markup here would show as tags.
        assert not any("<" in text for text in entry.answer.values()), entry.id
        assert faq.entry(entry.id) is entry


def test_default_faq_covers_the_topics_of_the_brief(faq: Faq) -> None:
    assert {entry.id for entry in faq.entries} >= {
        "how-to-request",
        "refund-time",
        "return-address",
        "waybill",
        "return-shipping",
        "seven-day-return",
        "warranty-repair",
        "wrong-or-missing",
        "transit-damage",
        "invoice",
        "not-delivered",
        "change-or-cancel",
        "talk-to-person",
    }


def test_default_answers_promise_no_fixed_refund_days(faq: Faq) -> None:
    refund = faq.entry("refund-time")
    assert refund is not None
    assert not any(ch.isdigit() for ch in refund.answer["en"] + refund.answer["zh"])
    assert "approved" in refund.answer["en"]


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_every_default_entry_is_found_by_its_own_question(faq: Faq, locale: str) -> None:
    for entry in faq.entries:
        assert top(faq, entry.question[locale], locale) == entry.id


def test_unknown_entry_id(faq: Faq) -> None:
    assert faq.entry("no-such-entry") is None
    assert faq.entry("") is None


# ----------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Each phrased differently from the file's question.
        ("退款多久到账", "refund-time"),
        ("钱什么时候能退给我", "refund-time"),
        ("快递单号填在哪里", "waybill"),
        ("东西坏了能修吗", "warranty-repair"),
        ("七天无理由能退吗", "seven-day-return"),
        ("7天无理由退货", "seven-day-return"),  # 7 and 七 are the same term
        ("退货运费谁出", "return-shipping"),
        ("有运费险吗", "return-shipping"),
        ("退货寄到哪", "return-address"),
        ("发错货了", "wrong-or-missing"),
        ("少发了一件", "wrong-or-missing"),
        ("包裹破损了", "transit-damage"),
        ("我要开发票", "invoice"),
        ("没收到货", "not-delivered"),
        ("快递一直没到", "not-delivered"),
        ("地址写错了", "change-or-cancel"),
        ("还没发货能取消吗", "change-or-cancel"),
        ("转人工", "talk-to-person"),
        ("怎么联系真人", "talk-to-person"),
        ("衣服尺码不合适想换", "exchange-size"),
        ("售后单到哪一步了", "request-status"),
    ],
)
def test_chinese_questions(faq: Faq, text: str, expected: str) -> None:
    assert top(faq, text, "zh") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("when do I get my money back", "refund-time"),
        ("where do I put the tracking number", "waybill"),
        ("my parcel arrived damaged", "transit-damage"),
        ("Who pays for return shipping?", "return-shipping"),
        ("can I cancel my order", "change-or-cancel"),
        ("I need an invoice for my company", "invoice"),
        ("how do I talk to a human", "talk-to-person"),
        ("it stopped working, is it under warranty?", "warranty-repair"),
        ("Changed my mind, can I return it within 7 days?", "seven-day-return"),
        ("REFUNDS", "refund-time"),  # case and plural do not matter
    ],
)
def test_english_questions(faq: Faq, text: str, expected: str) -> None:
    assert top(faq, text, "en") == expected


def test_english_in_a_chinese_conversation_still_matches(faq: Faq) -> None:
    # The caller shows the zh answer; the match itself must not depend on the locale.
    assert top(faq, "where do I put the tracking number", "zh") == "waybill"
    assert top(faq, "快递单号填在哪里", "en") == "waybill"
    assert ids(faq.match("when do I get my money back", "zh")) == ids(
        faq.match("when do I get my money back", "en")
    )


def test_results_are_best_first_and_limited(faq: Faq) -> None:
    found = faq.match("东西坏了能修吗", "zh")
    assert found[0].id == "warranty-repair"
    assert 1 <= len(found) <= 3
    assert len(faq.match("东西坏了能修吗", "zh", limit=1)) == 1
    assert faq.match("东西坏了能修吗", "zh", limit=0) == []


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "Hello!",
        "你好",
        "您好，在吗",
        "谢谢",
        "ok thanks",
        "asdf",
        "qwerty zxcv",
        "😀🎉👍",
        "？？？",
        "123",
        "今天天气不错",
        "my order",
        "订单",
        "火车几点出发",
    ],
)
def test_unrelated_text_matches_nothing(faq: Faq, text: str) -> None:
    assert faq.match(text, "zh") == []
    assert faq.match(text, "en") == []


def test_segmentation_not_substrings(faq: Faq) -> None:
    # 出发票价 is 出发 + 票价 ("departure fare"): the characters 发票 ("invoice") sit inside it,
    # so a substring search would offer the invoice answer.
    text = "火车出发票价是多少"
    invoice = faq.entry("invoice")
    assert invoice is not None and "发票" in text and "发票" in invoice.question["zh"]
    assert faq.match(text, "zh") == []
    # 装修 ("decoration") contains 修, a keyword of repairs.
    text = "你们店装修得真好看"
    assert "修" in text
    assert faq.match(text, "zh") == []
    # While the word itself is found.
    assert top(faq, "发票") == "invoice"
    assert top(faq, "能修吗") == "warranty-repair"


@pytest.mark.parametrize(
    "forms",
    [
        ("refund", "refunds", "refunded", "refunding"),
        ("ship", "ships", "shipped", "shipping"),
        ("address", "addresses", "addressed"),
        ("cancel", "cancelled", "canceled", "cancels"),
        ("delivery", "deliveries", "delivered"),
        ("damage", "damaged", "damages"),
        ("call", "called", "calls"),
    ],
)
def test_english_word_forms_match_each_other(tmp_path: Path, forms: tuple[str, ...]) -> None:
    for asked in forms:
        path = write(tmp_path, entry_yaml(question=f"question: {{zh: 问, en: {asked}}}"))
        faq = Faq.load(path)
        for written in forms:
            assert ids(faq.match(written.upper(), "en")) == ["refund"], (asked, written)


def test_repeating_a_word_does_not_add_relevance(faq: Faq) -> None:
    assert faq.match("订单订单订单订单订单", "zh") == []


@pytest.mark.parametrize(
    "text",
    [
        "",
        " ",
        "\n\t\r",
        "\x00",
        "\x00退款\x00多久\x00",
        "a" * 10_000,
        "退" * 10_000,
        "退款多久到账" * 2_000,
        "😀" * 5_000,
        "\u202e退款多久到账\u202c",  # right-to-left override
        "\u200f\u200e\u200b",  # RTL/LTR marks, zero-width space
        "مرحبا كيف حالك",
        "\ud800",  # lone surrogate
        "\ufeff\uffff\U0010ffff",
        "e\u0301" * 1000,  # combining accents
        "\ufdfa" * 600,  # NFKC turns this one character into 18
        "ｒｅｆｕｎｄ　７天",
        "<b>退款</b> & <script>",
        "'; DROP TABLE faq; --",
        "%s %(x)s {0} {{x}}",
        "二十四小时 十 十五天 一百天 九十九 两个月 十十天",
    ],
)
def test_hostile_strings_do_not_crash(faq: Faq, text: str) -> None:
    for locale in ("zh", "en", "fr", ""):
        found = faq.match(text, locale)
        assert isinstance(found, list)
        assert all(isinstance(entry, FaqEntry) for entry in found)
        assert len(found) <= 3


def test_hostile_strings_that_still_carry_a_question(faq: Faq) -> None:
    assert top(faq, "\u202e退款多久到账\u202c") == "refund-time"
    assert top(faq, "\x00退款\x00多久\x00到账") == "refund-time"
    assert top(faq, "ｒｅｆｕｎｄ", "en") == "refund-time"  # full-width letters
    assert top(faq, "退款多久到账" * 2_000) == "refund-time"  # cut, not refused


def test_not_a_string_matches_nothing(faq: Faq) -> None:
    assert faq.match(None, "zh") == []  # type: ignore[arg-type]
    assert faq.match(b"refund", "en") == []  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- own files


def write(tmp_path: Path, text: str, name: str = "faq.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


SMALL = """
- id: opening-hours
  question: {zh: 你们几点上班？, en: 'When are you open?'}
  answer: {zh: 工作日九点到六点。, en: Weekdays from nine to six.}
  keywords:
    zh: [营业时间, 上班时间]
    en: [opening hours, business hours]
- id: gift-wrap
  question: {zh: 可以包装成礼物吗？, en: 'Can you gift-wrap my order?'}
  answer: {zh: 可以，下单时备注即可。, en: 'Yes, add a note when ordering.'}
"""


def test_own_file_and_keywords(tmp_path: Path) -> None:
    faq = Faq.load(str(write(tmp_path, SMALL)))  # a str path is fine too
    assert ids(list(faq.entries)) == ["opening-hours", "gift-wrap"]
    entry = faq.entry("opening-hours")
    assert entry == FaqEntry(
        id="opening-hours",
        question={"zh": "你们几点上班？", "en": "When are you open?"},
        answer={"zh": "工作日九点到六点。", "en": "Weekdays from nine to six."},
    )
    # Found only through the keywords.
    assert ids(faq.match("营业时间", "zh")) == ["opening-hours"]
    assert ids(faq.match("what are your business hours", "en")) == ["opening-hours"]
    assert ids(faq.match("礼物包装", "zh")) == ["gift-wrap"]
    assert faq.match("hello", "en") == []


def test_answer_words_alone_do_not_qualify_an_entry(tmp_path: Path) -> None:
    # 备注 ("note") is only in gift-wrap's answer.
    faq = Faq.load(write(tmp_path, SMALL))
    assert faq.match("备注", "zh") == []


def assert_one_sentence(error: FaqError, path: Path) -> str:
    message = str(error)
    assert message.startswith(f"{path}: "), message
    assert message.endswith("."), message
    assert "\n" not in message, message
    # One sentence: no full stop before the last one (the path itself may have dots).
    assert ". " not in message.removeprefix(f"{path}: "), message
    return message.removeprefix(f"{path}: ")


def entry_yaml(**fields: str) -> str:
    base = {
        "id": "id: refund",
        "question": "question: {zh: 退款多久？, en: 'How long does a refund take?'}",
        "answer": "answer: {zh: 看店铺政策。, en: It depends on the shop's policy.}",
    }
    base.update(fields)
    lines = [line for line in base.values() if line]
    return "- " + "\n  ".join(lines) + "\n"


OK_ENTRY = entry_yaml()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "has no entries"),
        ("# only a comment\n", "has no entries"),
        ("[]\n", "has no entries"),
        ("entries: []\n", "must be a list of entries"),
        ("just some text\n", "must be a list of entries"),
        ("- 42\n", "entry 1 is not a mapping"),
        ("- id: [unclosed\n", "is not valid YAML at line"),
        ("- id: a\n   question: b\n  answer: c\n", "is not valid YAML at line 2"),
        (OK_ENTRY + entry_yaml(id=""), "entry 2 has no id"),
        (entry_yaml(id="id: 12"), "entry 1 has no id"),
        (entry_yaml(id="id: Refund"), "entry 1 has the id 'Refund', which is not lower-case"),
        (entry_yaml(id="id: refund time"), "entry 1 has the id 'refund time'"),
        (OK_ENTRY + OK_ENTRY, "entry 2 repeats the id 'refund' of entry 1"),
        (entry_yaml(question=""), "entry 1 has no question with zh and en texts"),
        (entry_yaml(question="question: 退款多久？"), "entry 1 has no question with zh and en"),
        (entry_yaml(question="question: {en: 'How long?'}"), "entry 1 has no Chinese question"),
        (entry_yaml(question="question: {zh: 多久, en: '  '}"), "entry 1 has no English question"),
        (entry_yaml(answer="answer: {zh: 看政策}"), "entry 1 has no English answer"),
        (entry_yaml(answer="answer: {zh: 7, en: seven}"), "entry 1 has no Chinese answer"),
        (
            entry_yaml(answer="answer: {zh: 看, en: see, fr: voir}"),
            "entry 1 has an unknown language 'fr' in its answer",
        ),
        (entry_yaml(keywords="keywords: [退款]"), "entry 1 has keywords that are not a zh/en"),
        (
            entry_yaml(keywords="keywords: {zh: 退款}"),
            "entry 1 has zh keywords that are not a list",
        ),
        (
            entry_yaml(keywords="keywords: {zh: ['']}"),
            "entry 1 has zh keywords that are not a list",
        ),
        (entry_yaml(keywords="keywords: {de: [x]}"), "entry 1 has an unknown language 'de'"),
        (entry_yaml(keyword="keyword: {zh: [退款]}"), "entry 1 has an unknown field 'keyword'"),
    ],
)
def test_bad_files(tmp_path: Path, text: str, problem: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FaqError) as caught:
        Faq.load(path)
    assert assert_one_sentence(caught.value, path).startswith(problem)


def test_the_example_message_of_the_interface(tmp_path: Path) -> None:
    text = OK_ENTRY + entry_yaml(id="id: b") + entry_yaml(id="id: c", answer="answer: {zh: 看}")
    path = write(tmp_path, text)
    with pytest.raises(FaqError) as caught:
        Faq.load(path)
    assert str(caught.value) == f"{path}: entry 3 has no English answer."


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(FaqError) as caught:
        Faq.load(path)
    assert assert_one_sentence(caught.value, path) == "the file does not exist."


def test_a_directory(tmp_path: Path) -> None:
    with pytest.raises(FaqError) as caught:
        Faq.load(tmp_path)
    assert assert_one_sentence(caught.value, tmp_path) == "is a directory, not a file."


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.yaml"
    path.write_bytes(OK_ENTRY.encode("gbk"))
    with pytest.raises(FaqError) as caught:
        Faq.load(path)
    assert assert_one_sentence(caught.value, path) == "is not UTF-8 text."


def test_faq_error_is_a_value_error() -> None:
    assert issubclass(FaqError, ValueError)
