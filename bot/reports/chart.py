"""The report's picture: a ChartSpec drawn with matplotlib (Agg, no display) as a PNG sized
for a phone held upright, Chinese included.

The font comes with the project's install (`noto-cjk-sans-otc`, Noto Sans CJK under the OFL):
a server has no CJK font of its own, and matplotlib's DejaVu Sans would draw every Chinese
character as an empty box. A glyph still missing is a bug, not a picture: `render` raises.
"""

from __future__ import annotations

import io
import warnings
from functools import cache

import matplotlib

matplotlib.use("Agg")  # before pyplot: never a display, in the bot or the CLI

from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from dialogs.reports.chart import Bars, ChartSpec

FAMILY = "Noto Sans CJK SC"  # the collection's simplified-Chinese face
WIDTH_IN, PANEL_IN, HEAD_IN, DPI = 7.2, 2.6, 1.1, 150  # 1080 px wide
NOW, BEFORE, TEXT = "#1f6feb", "#b8c4d6", "#1b1f24"


class MissingGlyph(RuntimeError):
    """The font lacks a character of a label: it would be drawn as a box."""


@cache
def font_family() -> str:
    """Register the packaged CJK font with matplotlib once per process; its family name."""
    from noto_cjk_sans_otc import FONT_PATH

    font_manager.fontManager.addfont(str(FONT_PATH))
    return FAMILY


def render(spec: ChartSpec) -> bytes:
    """The chart as PNG bytes. Raises MissingGlyph if any label lost a character."""
    family = font_family()
    height = HEAD_IN + PANEL_IN * max(len(spec.panels), 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with matplotlib.rc_context(
            {"font.family": [family], "font.size": 13, "axes.unicode_minus": False}
        ):
            figure = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout="constrained")
            figure.suptitle(
                f"{spec.title}\n{spec.subtitle}", fontsize=17, color=TEXT, linespacing=1.5
            )
            if not spec.panels:
                figure.text(
                    0.5, 0.4, spec.note or "", ha="center", va="center", fontsize=18, color=TEXT
                )
            else:
                axes = figure.subplots(len(spec.panels), 1, squeeze=False)[:, 0]
                for ax, panel in zip(axes, spec.panels, strict=True):
                    _draw(ax, panel, spec.legend)
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    missing = [str(w.message) for w in caught if "missing from" in str(w.message)]
    if missing:
        raise MissingGlyph("; ".join(sorted(set(missing))))
    return buffer.getvalue()


def _draw(ax: Axes, panel: Bars, legend: tuple[str, str]) -> None:
    """Horizontal bars, largest on top, the period before as a pale bar beneath each."""
    count = len(panel.labels)
    rows = list(range(count))[::-1]
    scale = 100.0 if panel.percent else 1.0
    values = [v * scale for v in panel.values]
    height = 0.38 if panel.previous is not None else 0.6
    ax.barh(
        [r + (height / 2 if panel.previous is not None else 0) for r in rows],
        values,
        height=height,
        color=NOW,
        label=legend[0],
    )
    if panel.previous is not None:
        ax.barh(
            [r - height / 2 for r in rows],
            [v * scale for v in panel.previous],
            height=height,
            color=BEFORE,
            label=legend[1],
        )
        # Above the bars, beside the title: inside the axes it would cover a bar.
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2, fontsize=10, frameon=False)
    ax.set_yticks(rows, list(panel.labels), fontsize=12)
    top = max([*values, *(v * scale for v in panel.previous or ()), 1.0])
    ax.set_xlim(0, top * 1.18)
    for row, value in zip(rows, values, strict=True):
        shown = f"{value:.0f}%" if panel.percent else f"{value:g}"
        ax.text(
            value + top * 0.01,
            row + (height / 2 if panel.previous is not None else 0),
            shown,
            va="center",
            fontsize=11,
            color=TEXT,
        )
    ax.set_title(panel.title, loc="left", fontsize=14, color=TEXT)
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(axis="x", labelsize=10)
    if not panel.percent:  # counts: no half cases on the axis
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
