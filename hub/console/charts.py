"""The console's charts: bars per day or per category, with an optional line on a second axis,
drawn on the server as SVG by matplotlib (no browser library, nothing from a CDN: hospital
networks often have no internet access).

A chart is shown as an ``<img>`` whose source is the SVG as a ``data:`` URI, so the pages'
Content-Security-Policy (no inline style) holds: the SVG's own styles stay inside the image.
Text is drawn as paths (no font needed by the reader); the server uses Noto Sans CJK SC for
Chinese labels when it has it (Debian's ``fonts-noto-cjk``), else matplotlib's own font.
Figures are built with ``matplotlib.figure.Figure`` (no pyplot registry); rcParams are
process-wide, so drawing holds a lock. Auditor pages draw theirs with the same functions.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import matplotlib
from matplotlib import font_manager
from matplotlib.figure import Figure

matplotlib.use("svg")
FONTS = ("Noto Sans CJK SC", "DejaVu Sans")
BAR_COLOURS = ("#4472c4", "#c00000", "#a5a5a5", "#ffc000", "#70ad47")
LINE_COLOUR = "#222222"
_drawing = threading.Lock()


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float | None]


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    svg: str

    @property
    def data_uri(self) -> str:
        return "data:image/svg+xml;base64," + base64.b64encode(self.svg.encode()).decode()


@cache
def available_fonts() -> list[str]:
    """The fonts of ``FONTS`` this machine has (matplotlib's own is always there)."""
    found = []
    for family in FONTS:
        try:
            font_manager.findfont(
                font_manager.FontProperties(family=family), fallback_to_default=False
            )
        except ValueError:
            continue
        found.append(family)
    return found


def chart_language(language: str) -> str:
    """The language a chart's labels are drawn in: the page's, unless it is Chinese and the
    server has no CJK font (then English, rather than empty boxes)."""
    return language if language == "en" or FONTS[0] in available_fonts() else "en"


def bar_chart(
    name: str,
    title: str,
    categories: Sequence[str],
    bars: Sequence[Series],
    *,
    bar_axis: str = "",
    line: Series | None = None,
    line_axis: str = "",
    horizontal: bool = False,
    empty: str = "—",
) -> Chart:
    """Grouped bars per category (and a line over them on a second axis); ``empty`` (the
    words for "no data") when there is nothing to draw."""
    with (
        _drawing,
        matplotlib.rc_context(
            {"font.family": available_fonts(), "svg.fonttype": "path", "svg.hashsalt": name}
        ),
    ):
        figure = Figure(figsize=(8.0, 3.2), layout="constrained")
        axes = figure.add_subplot()
        axes.set_title(title, fontsize=11)
        if not categories or not any(v for s in bars for v in s.values):
            axes.set_axis_off()
            axes.text(0.5, 0.5, empty, ha="center", va="center", fontsize=12)
            return Chart(name, title, _svg(figure))
        width = 0.8 / max(1, len(bars))
        positions = range(len(categories))
        for n, series in enumerate(bars):
            shifted = [p - 0.4 + width * (n + 0.5) for p in positions]
            values = [v or 0 for v in series.values]
            colour = BAR_COLOURS[n % len(BAR_COLOURS)]
            if horizontal:
                axes.barh(shifted, values, width, label=series.label, color=colour)
            else:
                axes.bar(shifted, values, width, label=series.label, color=colour)
        if horizontal:
            axes.set_yticks(list(positions), list(categories), fontsize=8)
            axes.invert_yaxis()
            axes.set_xlabel(bar_axis)
        else:
            axes.set_xticks(list(positions), list(categories), fontsize=8, rotation=45, ha="right")
            axes.set_ylabel(bar_axis)
        if line is not None and not horizontal:
            other = axes.twinx()
            points = [(p, v) for p, v in zip(positions, line.values, strict=True) if v is not None]
            other.plot([p for p, _ in points], [v for _, v in points], marker="o",
                       color=LINE_COLOUR, label=line.label)  # fmt: skip
            other.set_ylabel(line_axis)
            other.set_ylim(bottom=0)
        if len(bars) > 1 or line is not None:
            figure.legend(fontsize=8, loc="outside lower center", ncol=len(bars) + 1)
        return Chart(name, title, _svg(figure))


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
