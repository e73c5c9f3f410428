"""The console's server-side charts: an SVG per chart, drawn from the figures given, shown as a
data: URI (the pages' CSP allows no inline style); labels in English where no CJK font is."""

from __future__ import annotations

import base64

import pytest

from hub.console import charts
from hub.console.charts import Series, bar_chart, chart_language


def test_a_chart_is_an_svg_image_with_one_bar_per_value() -> None:
    booked, rate = Series("Booked", [3, 0, 5]), Series("%", [60.0, None, 100.0])
    drawn = bar_chart("fill", "Fill rate", ["12-01", "12-02", "12-03"], [booked], line=rate)
    assert drawn.svg.lstrip().startswith("<?xml") and "<svg" in drawn.svg
    assert drawn.svg.count('id="patch_') >= 3 + 2  # three bars beside the figure and axes
    prefix = "data:image/svg+xml;base64,"
    assert drawn.data_uri.startswith(prefix)
    assert base64.b64decode(drawn.data_uri[len(prefix) :]).decode() == drawn.svg


def test_more_values_draw_more_bars_and_nothing_to_draw_says_so() -> None:
    few = bar_chart("a", "A", ["x"], [Series("n", [1])])
    many = bar_chart("b", "B", ["x", "y", "z", "w"], [Series("n", [1, 2, 3, 4])])
    assert many.svg.count('id="patch_') - few.svg.count('id="patch_') == 3
    empty = bar_chart("c", "C", ["x", "y"], [Series("n", [0, None])], empty="no data")
    assert empty.svg.count('id="patch_') < few.svg.count('id="patch_')


def test_chinese_labels_fall_back_to_english_without_a_cjk_font(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(charts, "available_fonts", lambda: ["DejaVu Sans"])
    assert chart_language("zh-CN") == "en"
    monkeypatch.setattr(charts, "available_fonts", lambda: ["Noto Sans CJK SC", "DejaVu Sans"])
    assert (chart_language("zh-CN"), chart_language("en")) == ("zh-CN", "en")


def test_the_same_figures_reuse_their_drawing_and_changed_ones_are_drawn_again() -> None:
    first = bar_chart("same", "Same", ["x", "y"], [Series("n", [1, 2])])
    again = bar_chart("same", "Same", ["x", "y"], [Series("n", [1, 2])])
    changed = bar_chart("same", "Same", ["x", "y"], [Series("n", [1, 3])])
    assert again.svg is first.svg
    assert changed.svg != first.svg


def test_referral_figures_are_kept_a_while_then_computed_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from datetime import timedelta

    from hub.console.queries import charts as figures

    computed: list[int] = []

    def compute() -> int:
        computed.append(1)
        return len(computed)

    key = ("test", object())
    first, at = figures.recent(key, compute)
    again, kept_at = figures.recent(key, compute)
    assert (first, again, kept_at) == (1, 1, at)
    monkeypatch.setattr(figures, "FIGURES_KEPT", timedelta(0))
    assert figures.recent(key, compute)[0] == 2
