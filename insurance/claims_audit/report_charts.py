"""The monthly report's charts, each an inline SVG (matplotlib's SVG backend: no browser, no
network). Text is drawn as paths, so a reader needs no font; the server needs a CJK font for
Chinese labels ("Noto Sans CJK SC", Debian's ``fonts-noto-cjk``). Without one, labels fall
back to their Latin part or their code rather than drawing empty boxes.

Figures are built with ``matplotlib.figure.Figure`` (not pyplot: no global figure registry);
rcParams are global, so rendering holds a lock.
"""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from insurance.claims_audit.monthly_report import MonthlyReport
from insurance.claims_audit.peer_figures import METRIC_LABEL, Flag, Metric, PeerPosition
from insurance.claims_audit.report_figures import GroupFigures, MonthFigures

matplotlib.use("svg")  # no GUI toolkit, whatever the machine has
CJK_FONT = "Noto Sans CJK SC"
LATIN_FONT = "DejaVu Sans"  # matplotlib's own: always there
MAX_BARS = 15  # facilities in a bar chart: the largest amounts at risk
MAX_PEER_ROWS = 40  # facilities in a peer chart: the flagged first, then the highest values
WIDTH = 9.0  # inches
COLOURS = {"at_risk": "#4472c4", "recover": "#c00000", "dismissed": "#a5a5a5", "open": "#ffc000"}
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
KEPT_DRAWINGS = 32  # reports' chart sets kept (a month and facility each, about 1 MB of SVG)
_lock = threading.Lock()


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    svg: str  # an <svg> element, ready to inline


@cache
def cjk_font_available() -> bool:
    try:
        font_manager.findfont(
            font_manager.FontProperties(family=CJK_FONT), fallback_to_default=False
        )
    except ValueError:
        return False
    return True


def chart_text(text: str, code: str = "") -> str:
    """``text`` as drawn: whole with a CJK font; else its Latin part, else ``code``."""
    if cjk_font_available():
        return text
    latin = " ".join(_NON_ASCII.sub(" ", text).split())
    return latin or code or "?"


def _yuan(fen: int) -> float:
    return fen / 100  # drawing only: the figures themselves stay integer fen


def _figure(rows: int) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(WIDTH, max(2.5, 0.9 + 0.32 * rows)), layout="constrained")
    return figure, figure.add_subplot()


def _svg(figure: Figure, name: str) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": name}):  # ids unique per chart on one page
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _empty(axes: Axes) -> None:
    axes.text(0.5, 0.5, chart_text("无数据 no data"), ha="center", va="center", fontsize=12)
    axes.set_axis_off()


def _bars(
    name: str, title: str, groups: Sequence[GroupFigures], label: Callable[[GroupFigures], str]
) -> Chart:
    """Amount at risk per group, the count of findings at each bar's end."""
    shown = [g for g in groups if g.count][:MAX_BARS]
    figure, axes = _figure(len(shown))
    if not shown:
        _empty(axes)
    else:
        ys = range(len(shown))
        bars = axes.barh(ys, [_yuan(g.at_risk_fen) for g in shown], color=COLOURS["at_risk"])
        axes.bar_label(bars, labels=[f"{g.count}" for g in shown], padding=3, fontsize=8)
        axes.set_yticks(list(ys), [label(g) for g in shown], fontsize=8)
        axes.invert_yaxis()
        axes.set_xlabel(chart_text("风险金额 Amount at risk (CNY)"))
    axes.set_title(chart_text(title), fontsize=11)
    return Chart(name, title, _svg(figure, name))


def _amounts(
    name: str, title: str, groups: Sequence[GroupFigures], label: Callable[[GroupFigures], str]
) -> Chart:
    """At risk, confirmed to recover and dismissed, side by side per group."""
    shown = [g for g in groups if g.count][:MAX_BARS]
    figure, axes = _figure(len(shown) * 2)
    if not shown:
        _empty(axes)
    else:
        height = 0.27
        series = (
            ("at_risk", "风险金额 At risk", "at_risk_fen"),
            ("recover", "确认追回 Confirmed to recover", "recover_fen"),
            ("dismissed", "已排除 Dismissed", "dismissed_fen"),
        )
        for offset, (key, text, field) in enumerate(series):
            ys = [i + (offset - 1) * height for i in range(len(shown))]
            values = [_yuan(int(getattr(g, field))) for g in shown]
            axes.barh(ys, values, height, color=COLOURS[key], label=chart_text(text))
        axes.set_yticks(list(range(len(shown))), [label(g) for g in shown], fontsize=8)
        axes.invert_yaxis()
        axes.set_xlabel(chart_text("金额 Amount (CNY)"))
        figure.legend(fontsize=8, loc="outside lower center", ncol=3)
    axes.set_title(chart_text(title), fontsize=11)
    return Chart(name, title, _svg(figure, name))


def _review_states(name: str, title: str, groups: Sequence[GroupFigures]) -> Chart:
    figure, axes = _figure(len(groups))
    ys = list(range(len(groups)))
    left = [0] * len(groups)
    for key, text, field in (
        ("open", "待审 Open", "open"),
        ("recover", "确认 Confirmed", "confirmed"),
        ("dismissed", "排除 Dismissed", "dismissed"),
    ):
        values = [int(getattr(g, field)) for g in groups]
        axes.barh(ys, values, left=left, color=COLOURS[key], label=chart_text(text))
        left = [a + b for a, b in zip(left, values, strict=True)]
    axes.set_yticks(ys, [chart_text(g.label, g.key) for g in groups], fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(chart_text("发现数 Findings"))
    figure.legend(fontsize=8, loc="outside lower center", ncol=3)
    axes.set_title(chart_text(title), fontsize=11)
    return Chart(name, title, _svg(figure, name))


def _trend(trend: Sequence[MonthFigures]) -> Chart:
    name, title = "by-month", "近12个月趋势 Findings by month (service day)"
    figure, axes = _figure(8)
    months = [str(m.month) for m in trend]
    axes.bar(months, [m.count for m in trend], color=COLOURS["at_risk"])
    axes.set_ylabel(chart_text("发现数 Findings"))
    axes.tick_params(axis="x", labelrotation=45, labelsize=8)
    amounts = axes.twinx()
    amounts.plot(months, [_yuan(m.at_risk_fen) for m in trend], color=COLOURS["recover"],
                 marker="o")  # fmt: skip
    amounts.set_ylabel(chart_text("风险金额 Amount at risk (CNY)"))
    amounts.set_ylim(bottom=0)
    axes.set_title(chart_text(title), fontsize=11)
    return Chart(name, title, _svg(figure, name))


def _peer_rows(positions: Sequence[PeerPosition]) -> list[PeerPosition]:
    if len(positions) <= MAX_PEER_ROWS:
        return list(positions)
    flagged = [p for p in positions if p.flag in (Flag.HIGH, Flag.LOW)]
    rest = [p for p in positions if p not in flagged]
    keep = set(map(id, (flagged + rest)[:MAX_PEER_ROWS]))
    return [p for p in positions if id(p) in keep]  # in the original order: by group


def _peers(metric: Metric, positions: Sequence[PeerPosition]) -> Chart:
    """Each facility's value (a dot, red when flagged) on its group's quartile box (Q1-Q3),
    median (a bar) and upper fence (a dashed tick)."""
    name, title = f"peers-{metric.value}", METRIC_LABEL[metric]
    rows = _peer_rows([p for p in positions if p.metric is metric])
    figure, axes = _figure(len(rows))
    if not rows:
        _empty(axes)
    for y, p in enumerate(rows):
        q1, median, q3 = (float(v) for v in (p.stats.q1, p.stats.median, p.stats.q3))
        axes.barh(y, q3 - q1, left=q1, height=0.6, color="#dae3f3", edgecolor="#8faadc")
        axes.plot([median, median], [y - 0.3, y + 0.3], color="#2f5597", linewidth=2)
        fence = float(p.stats.upper_fence)
        axes.plot([fence, fence], [y - 0.3, y + 0.3], color="#7f7f7f", linestyle="--")
        flagged = p.flag in (Flag.HIGH, Flag.LOW)
        axes.plot(float(p.value), y, "o", color=COLOURS["recover"] if flagged else "#000000")
    if rows:
        labels = [
            f"{chart_text(p.facility.name, p.facility.code)} · "
            f"{chart_text(p.facility.peer_group, p.facility.group_code)}"
            for p in rows
        ]
        axes.set_yticks(list(range(len(rows))), labels, fontsize=7)
        axes.invert_yaxis()
        axes.set_xlabel(chart_text(title))
    shown = f" ({len(rows)}/{sum(p.metric is metric for p in positions)})"
    axes.set_title(chart_text(title) + shown, fontsize=11)
    return Chart(name, title, _svg(figure, name))


@dataclass(frozen=True)
class _Drawn:
    """What the charts draw of a report (its figures, not when it was generated): the key of
    the drawings kept."""

    by_rule: tuple[GroupFigures, ...]
    by_facility: tuple[GroupFigures, ...]
    by_district: tuple[GroupFigures, ...]
    trend: tuple[MonthFigures, ...]
    peers: tuple[PeerPosition, ...]


def report_charts(report: MonthlyReport) -> list[Chart]:
    """Every chart of the report, in the page's order; drawn again only when its figures
    changed (matplotlib takes seconds for the ten, the figures a fraction of that)."""
    drawn = _Drawn(tuple(report.by_rule), tuple(report.by_facility), tuple(report.by_district),
                   tuple(report.trend), tuple(report.peers))  # fmt: skip
    return list(_draw(drawn, cjk_font_available()))


def _label(g: GroupFigures) -> str:  # a rule's English name, else the facility's code
    return chart_text(g.label, g.key)


@lru_cache(maxsize=KEPT_DRAWINGS)
def _draw(report: _Drawn, cjk: bool) -> tuple[Chart, ...]:
    # a per-glyph fallback list: Chinese from Noto, the rest from either (none asked for that
    # is missing: matplotlib would log a warning for every label)
    fonts = [CJK_FONT, LATIN_FONT] if cjk else [LATIN_FONT]
    with _lock, matplotlib.rc_context({"font.family": fonts, "svg.fonttype": "path"}):
        return (
            _bars("by-rule", "按规则 Findings by rule", report.by_rule, _label),
            _bars("by-facility", "按机构 Findings by facility", report.by_facility, _label),
            _bars("by-district", "按区县 Findings by district", report.by_district, _label),
            _trend(report.trend),
            _amounts("amounts-by-rule", "按规则金额 Amounts by rule", report.by_rule, _label),
            _amounts(
                "amounts-by-facility", "按机构金额 Amounts by facility", report.by_facility, _label
            ),
            _review_states("review-by-rule", "审核状态 Review state by rule", report.by_rule),
            *(_peers(metric, report.peers) for metric in Metric),
        )
