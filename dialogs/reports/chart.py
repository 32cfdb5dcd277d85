"""What the report's picture shows, as plain data: every word already in the reader's
language (templates `report/chart` and `report/label`), every bar a number. bot/ draws it
(matplotlib); the outbox carries it as JSON until the photo leaves."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from typing import Any

from dialogs.texts import Texts

from .figures import Line, Report

TOP_PRODUCTS = 5  # more bars than this are unreadable on a phone
NAME_LENGTH = 18


@dataclass(frozen=True, slots=True)
class Bars:
    title: str
    labels: tuple[str, ...]
    values: tuple[float, ...]
    previous: tuple[float, ...] | None  # the period before, beside each bar
    percent: bool = False  # values are shares (0..1), drawn as per cent


@dataclass(frozen=True, slots=True)
class ChartSpec:
    title: str
    subtitle: str
    legend: tuple[str, str]  # this period, the one before
    panels: tuple[Bars, ...]
    note: str | None = None  # said instead of the panels when there is nothing to draw

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChartSpec:
        panels = tuple(
            Bars(
                p["title"],
                tuple(p["labels"]),
                tuple(p["values"]),
                tuple(p["previous"]) if p.get("previous") is not None else None,
                bool(p.get("percent")),
            )
            for p in data["panels"]
        )
        legend = (str(data["legend"][0]), str(data["legend"][1]))
        return cls(data["title"], data["subtitle"], legend, panels, data.get("note"))


def chart_spec(report: Report, texts: Texts, locale: str) -> ChartSpec:
    def words(part: str, **values: Any) -> str:
        # Not `texts.plain`: it would keep every report in its memo of labels.
        return html.unescape(
            str(texts.render(locale, "report/chart", part=part, report=report, **values))
        )

    def label(kind: str, name: str) -> str:
        return texts.plain(locale, "report/label", kind=kind, name=name)

    def bars(part: str, kind: str, lines: tuple[Line, ...]) -> Bars:
        return Bars(
            words(part),
            tuple(label(kind, x.name) for x in lines),
            tuple(float(x.count) for x in lines),
            tuple(float(x.previous) for x in lines),
        )

    legend = (words("legend_now"), words("legend_before"))
    if report.empty:
        return ChartSpec(words("title"), words("subtitle"), legend, (), words("empty"))
    products = report.products_by_claims[:TOP_PRODUCTS]
    clocks = [c for c in report.clocks if c.share_met is not None]
    panels = (
        bars("by_service", "service", report.by_service),
        bars("decisions", "outcome", report.decisions),
        Bars(
            words("products"),
            tuple(_short(p.name or p.sku) for p in products),
            tuple(float(p.claims) for p in products),
            None,
        ),
        Bars(
            words("clocks"),
            tuple(label("clock", c.name) for c in clocks),
            tuple(float(c.share_met or 0.0) for c in clocks),
            None,
            percent=True,
        ),
        bars("ratings", "rating", tuple(reversed(report.ratings))),  # 5 stars on top
    )
    return ChartSpec(
        words("title"), words("subtitle"), legend, tuple(p for p in panels if p.values)
    )


def _short(name: str) -> str:
    return name if len(name) <= NAME_LENGTH else name[: NAME_LENGTH - 1] + "…"
