"""The report's chart: Chinese drawn with the font the install brings, no glyph missing,
one picture a phone shows whole."""

from __future__ import annotations

import io
import struct
import warnings
from datetime import date

import pytest

from bot.reports.chart import MissingGlyph, render
from dialogs.policy.calendar import WorkingCalendar
from dialogs.reports import Period, build_report
from dialogs.reports.chart import Bars, ChartSpec, chart_spec
from dialogs.texts import Texts
from storage.db import Database
from storage.repos.reports import ReportRepo
from tests.reports_history import load_history

TZ = "Asia/Shanghai"


def _size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


@pytest.mark.parametrize("locale", ["zh", "en"])
async def test_the_chart_draws_every_label_in_both_languages(db: Database, locale: str) -> None:
    await load_history(db)
    async with db.read() as session:
        report = await build_report(
            ReportRepo(session),
            Period(date(2026, 11, 2), date(2026, 11, 8)),
            TZ,
            WorkingCalendar(TZ),
        )
    spec = chart_spec(report, Texts(), locale)
    if locale == "zh":
        assert spec.panels[0].labels == ("退货退款", "换货", "维修")
        assert "电饭煲" in spec.panels[2].labels
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render(spec)
    assert not [str(w.message) for w in caught if "missing" in str(w.message).lower()]
    width, height = _size(png)
    assert width == 1080 and height <= 2400  # phone width; Telegram keeps it sharp
    assert len(png) > 50_000  # five panels of bars and words, not an empty canvas


def test_a_character_the_font_lacks_is_an_error_not_a_box() -> None:
    spec = ChartSpec("售后", "—", ("本期", "上期"), (Bars("商品", ("🧾 receipt",), (1.0,), None),))
    with pytest.raises(MissingGlyph):
        render(spec)


def test_a_period_without_cases_is_a_picture_that_says_so() -> None:
    spec = ChartSpec("售后报表", "申请 0 单", ("本期", "上期"), (), "本期没有售后申请")
    png = render(spec)
    width, height = _size(png)
    assert width == 1080 and height < 800
    from PIL import Image

    assert Image.open(io.BytesIO(png)).getextrema()[0][0] < 100  # some dark text on it


def test_the_spec_survives_the_outbox_json() -> None:
    spec = ChartSpec("t", "s", ("a", "b"), (Bars("x", ("l",), (2.0,), (1.0,), percent=True),))
    assert ChartSpec.from_dict(spec.as_dict()) == spec
