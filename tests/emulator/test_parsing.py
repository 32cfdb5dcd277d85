"""parse_mode HTML and MarkdownV2 as Telegram parses them (offsets in UTF-16 units)."""

import pytest

from bot.emulator.errors import ApiError
from bot.emulator.html import parse_html
from bot.emulator.markdown import parse_markdown_v2


def test_html_entities_and_nesting():
    text, entities = parse_html(
        '<b>Hi <i>there</i></b> &lt;3 &amp; <a href="https://x.y/?a=1&amp;b=2">link</a>'
    )
    assert text == "Hi there <3 & link"
    assert entities == [
        {"offset": 0, "length": 8, "type": "bold"},
        {"offset": 3, "length": 5, "type": "italic"},
        {"offset": 14, "length": 4, "type": "text_link", "url": "https://x.y/?a=1&b=2"},
    ]


def test_html_offsets_are_utf16():
    text, entities = parse_html("😀 <b>ok</b>")
    assert text == "😀 ok"
    assert entities == [{"offset": 3, "length": 2, "type": "bold"}]


def test_html_pre_with_language_spoiler_blockquote_and_numeric_entities():
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre>'
        '<tg-spoiler>s</tg-spoiler><span class="tg-spoiler">t</span>'
        "<blockquote expandable>q</blockquote>&#65;&#x42;&nbsp;"
    )
    assert text == "x = 1stqAB&nbsp;"
    assert [e["type"] for e in entities] == [
        "pre",
        "spoiler",
        "spoiler",
        "expandable_blockquote",
    ]
    assert entities[0]["language"] == "python"


def test_html_tags_are_case_insensitive_and_empty_entities_dropped():
    text, entities = parse_html("<B>x</B><i></i>")
    assert (text, entities) == ("x", [{"offset": 0, "length": 1, "type": "bold"}])


@pytest.mark.parametrize("bad", ["<unknown>x</unknown>", "1 < 2", "<b>x", "</b>", "<a href='x>y"])
def test_html_errors(bad: str):
    with pytest.raises(ApiError) as caught:
        parse_html(bad)
    assert caught.value.description.startswith("Bad Request: can't parse entities: ")
    assert caught.value.kind == "validation"


def test_markdown_v2():
    text, entities = parse_markdown_v2(r"*bold* _it_ __u__ ~s~ ||sp|| `c` [l](https://x.y) 1\.5")
    assert text == "bold it u s sp c l 1.5"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]


@pytest.mark.parametrize("bad", ["1.5", "*open", "a-b", "[x](y"])
def test_markdown_v2_errors(bad: str):
    with pytest.raises(ApiError, match="can't parse entities"):
        parse_markdown_v2(bad)


def test_text_is_trimmed_and_entities_clipped():
    from bot.emulator.limits import message_text

    text, entities = message_text({"text": "\n <b> hi</b> \n", "parse_mode": "HTML"})
    assert text == "hi"
    assert entities == [{"offset": 0, "length": 2, "type": "bold"}]


def test_every_spec_field_type_has_a_checker():
    from bot.emulator.core import cached_spec
    from bot.emulator.validation import Validator

    spec = cached_spec()
    validator = Validator(spec)
    for method in spec.methods.values():
        for field in method.params.fields.values():
            validator.checker(field.types)
    for obj in spec.objects.values():
        for field in obj.fields.values():
            validator.checker(field.types)
