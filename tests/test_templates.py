"""Both languages say everything: same templates, same variables, and they all render."""

from __future__ import annotations

import re

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
