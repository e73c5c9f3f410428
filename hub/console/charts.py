"""The console's charts: bars per day or per category, with an optional line on a second axis,
drawn on the server as SVG by matplotlib (no browser library, nothing from a CDN: hospital
networks often have no internet access).

A chart is shown as an ``<img>`` whose source is the SVG as a ``data:`` URI, so the pages'
Content-Security-Policy (no inline style) holds: the SVG's own styles stay inside the image.
Text stays text in the SVG (``svg.fonttype: none``; drawing glyphs as paths took most of the
time), so the reader's browser draws it: Noto Sans CJK SC where installed, else its own Chinese
font. Margins are fixed rather than computed by a layout engine (the other half of the time).
The same figures draw the same picture, so a drawing is kept (``RENDERED`` of them) and reused
until the figures change. Figures are built with ``matplotlib.figure.Figure`` (no pyplot
registry); rcParams are process-wide, so drawing holds a lock. Auditor pages draw theirs with
the same functions.
"""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

matplotlib.use("svg")
FONTS = ("Noto Sans CJK SC", "DejaVu Sans")
BAR_COLOURS = ("#4472c4", "#c00000", "#a5a5a5", "#ffc000", "#70ad47")
LINE_COLOUR = "#222222"
RENDERED = 256  # drawings kept, by their figures
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
    spec = _Spec(
        name, title, tuple(categories),
        tuple((s.label, tuple(s.values)) for s in bars),
        bar_axis, (line.label, tuple(line.values)) if line else None, line_axis, horizontal, empty,
    )  # fmt: skip
    return Chart(name, title, _draw(spec))


@dataclass(frozen=True)
class _Spec:
    name: str
    title: str
    categories: tuple[str, ...]
    bars: tuple[tuple[str, tuple[float | None, ...]], ...]
    bar_axis: str
    line: tuple[str, tuple[float | None, ...]] | None
    line_axis: str
    horizontal: bool
    empty: str


@lru_cache(maxsize=RENDERED)
def _draw(spec: _Spec) -> str:
    with (
        _drawing,
        matplotlib.rc_context(
            {"font.family": available_fonts(), "svg.fonttype": "none", "svg.hashsalt": spec.name}
        ),
    ):
        figure = Figure(figsize=(8.0, 3.4))
        left = 0.3 if spec.horizontal else 0.08
        figure.subplots_adjust(left=left, right=0.92, top=0.88, bottom=0.3)
        axes = figure.add_subplot()
        axes.set_title(spec.title, fontsize=11)
        if not spec.categories or not any(v for _, values in spec.bars for v in values):
            axes.set_axis_off()
            axes.text(0.5, 0.5, spec.empty, ha="center", va="center", fontsize=12)
            return _svg(figure)
        _draw_bars(axes, spec)
        if spec.line is not None and not spec.horizontal:
            other = axes.twinx()
            label, values = spec.line
            points = [(p, v) for p, v in enumerate(values) if v is not None]
            other.plot([p for p, _ in points], [v for _, v in points], marker="o",
                       color=LINE_COLOUR, label=label)  # fmt: skip
            other.set_ylabel(spec.line_axis)
            other.set_ylim(bottom=0)
        if len(spec.bars) > 1 or spec.line is not None:
            figure.legend(fontsize=8, loc="lower center", ncol=len(spec.bars) + 1)
        return _svg(figure)


def _draw_bars(axes: Axes, spec: _Spec) -> None:
    width = 0.8 / max(1, len(spec.bars))
    positions = range(len(spec.categories))
    for n, (label, series) in enumerate(spec.bars):
        shifted = [p - 0.4 + width * (n + 0.5) for p in positions]
        values = [v or 0 for v in series]
        colour = BAR_COLOURS[n % len(BAR_COLOURS)]
        if spec.horizontal:
            axes.barh(shifted, values, width, label=label, color=colour)
        else:
            axes.bar(shifted, values, width, label=label, color=colour)
    values_axis = axes.xaxis if spec.horizontal else axes.yaxis
    values_axis.set_major_locator(MaxNLocator(integer=True))  # counts and yuan: whole ticks
    if spec.horizontal:
        axes.set_yticks(list(positions), list(spec.categories), fontsize=8)
        axes.invert_yaxis()
        axes.set_xlabel(spec.bar_axis)
    else:
        axes.set_xticks(list(positions), list(spec.categories), fontsize=8, rotation=45,
                        ha="right")  # fmt: skip
        axes.set_ylabel(spec.bar_axis)


def _svg(figure: Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()
