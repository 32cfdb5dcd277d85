"""Every sentence a user sees comes from templates/<locale>/<key>.j2, rendered here.

One autoescaping environment per locale, built once and passed down. Values are escaped for
Telegram's HTML parse mode; money and dates are formatted with babel in the user's locale and the
shop's time zone.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import date, datetime, time
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from dialogs.paths import TEMPLATES_DIR
from storage.domain import LOCALES

BABEL_LOCALES = {"zh": "zh_Hans_CN", "en": "en_US"}
_DATETIME = {"zh_Hans_CN": "{date} {time}", "en_US": "{date}, {time}"}
SUFFIX = ".j2"
MAX_LABELS = 20_000  # labels kept rendered; past it the memo starts again


class Texts:
    """Renders message templates; `render(locale, key, **values)` returns HTML-safe text."""

    def __init__(
        self,
        root: Path = TEMPLATES_DIR,
        timezone: str = "Asia/Shanghai",
        default_locale: str = "zh",
    ) -> None:
        self.root = root
        self.tz = ZoneInfo(timezone)
        self.default_locale = default_locale if default_locale in LOCALES else "zh"
        self._envs = {loc: self._build_env(loc) for loc in LOCALES}
        self._fixed: dict[tuple[str, str], Markup] = {}
        self._labels: dict[tuple[str, str, tuple[tuple[str, Any], ...]], str] = {}

    def _build_env(self, locale: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(self.root / locale),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,  # no stat() of the file at every render: templates ship with code
        )
        babel_locale = BABEL_LOCALES[locale]
        env.filters["money"] = lambda amount, currency="CNY": format_currency(
            Decimal(str(amount)), currency, locale=babel_locale
        )
        env.filters["number"] = lambda n: format_decimal(n, locale=babel_locale)
        env.filters["date"] = lambda d: self._format_date(d, babel_locale)
        env.filters["datetime"] = lambda d: self._format_datetime(d, babel_locale)
        env.globals["locale"] = locale
        return env

    def _format_date(self, value: date | datetime | None, babel_locale: str) -> str:
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.astimezone(self.tz).date()
        return _date(value, babel_locale)

    def _format_datetime(self, value: datetime | None, babel_locale: str) -> str:
        """One date format per language: the date as `date` writes it, then the time."""
        if value is None:
            return ""
        local = value.astimezone(self.tz)
        if (local.hour, local.minute) == (23, 59):
            # "By the end of 3 December" reads better than "3 December 23:59:59".
            return _date(local.date(), babel_locale)
        return _DATETIME[babel_locale].format(
            date=_date(local.date(), babel_locale), time=_time(local.time(), babel_locale)
        )

    def locale(self, wanted: str | None) -> str:
        """The locale we can speak that is closest to a Telegram language_code."""
        if wanted:
            base = wanted.lower().replace("_", "-").split("-")[0]
            if base in LOCALES:
                return base
        return self.default_locale

    def render(self, locale: str, key: str, /, **values: Any) -> Markup:
        """HTML for Telegram's HTML parse mode; Markup so nesting never escapes twice."""
        locale = self.locale(locale)
        if not values:  # labels and fixed sentences: the same text every time
            fixed = self._fixed.get((locale, key))
            if fixed is None:
                fixed = self._fixed[(locale, key)] = self._render(locale, key, {})
            return fixed
        return self._render(locale, key, values)

    def _render(self, locale: str, key: str, values: dict[str, Any]) -> Markup:
        return Markup(self._envs[locale].get_template(key + SUFFIX).render(**values).strip())

    def plain(self, locale: str, key: str, /, **values: Any) -> str:
        """Text where Telegram parses no HTML: button labels, callback answers. Labels come
        back with the same few values all the time (a service, an order): kept once made."""
        try:
            memo_key = (locale, key, tuple(values.items()))
            found = self._labels.get(memo_key)
        except TypeError:  # a value that cannot be a key: rendered every time
            return html.unescape(str(self.render(locale, key, **values)))
        if found is None:
            if len(self._labels) >= MAX_LABELS:
                self._labels.clear()
            found = self._labels[memo_key] = html.unescape(str(self.render(locale, key, **values)))
        return found

    def render_message(self, locale: str, key: str, values: Mapping[str, Any]) -> str:
        return self.render(locale, key, **dict(values))

    def keys(self, locale: str) -> set[str]:
        base = self.root / locale
        return {str(p.relative_to(base))[: -len(SUFFIX)] for p in base.rglob("*" + SUFFIX)}


@lru_cache(maxsize=4096)
def _date(value: date, babel_locale: str) -> str:
    return format_date(value, format="medium", locale=babel_locale)


@lru_cache(maxsize=4096)
def _time(value: time, babel_locale: str) -> str:
    return format_time(value, format="short", locale=babel_locale)
