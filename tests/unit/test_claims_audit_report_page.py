"""The monthly report rendered: one self-contained HTML page (an inline SVG per chart, nothing
fetched), its tables with Chinese names, the CSVs' columns, and labels without a CJK font."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from hub.region.facilities import load_facilities
from insurance.claims_audit import report_charts
from insurance.claims_audit.codes import RuleCode
from insurance.claims_audit.monthly_report import (
    GROUP_COLUMNS,
    PEER_COLUMNS,
    MonthlyReport,
    build_report,
)
from insurance.claims_audit.peer_figures import facility_facts
from insurance.claims_audit.report_charts import chart_text
from insurance.claims_audit.report_figures import FindingFacts, Month, ReviewState
from insurance.claims_audit.report_page import LONG_COLUMNS, long_csv, render_report, table_csv
from insurance.claims_audit.view import Claim, Line

CHARTS = (
    "by-rule", "by-facility", "by-district", "by-month", "amounts-by-rule", "amounts-by-facility",
    "review-by-rule", "peers-cost-per-visit", "peers-drug-share", "peers-readmission-rate",
)  # fmt: skip
FACILITIES = {f.code: facility_facts(f) for f in load_facilities()}


def _report(with_data: bool = True) -> MonthlyReport:
    findings = [
        FindingFacts("f1", "duplicate-charge", "H001", date(2025, 9, 3), 2000, ReviewState.OPEN),
        FindingFacts("f2", "split-admission", "H005", date(2025, 9, 4), 5000,
                     ReviewState.CONFIRMED, 4000),
        FindingFacts("f3", "phantom-service", "H008", date(2025, 7, 4), 900,
                     ReviewState.DISMISSED),
    ]  # fmt: skip
    claims = [
        Claim(f"c{n}", "p1", code, date(2025, 9, 9), (Line(1, "X", 1, fen, date(2025, 9, 9)),))
        for n, (code, fen) in enumerate(
            [("H001", 10_000), ("H002", 11_000), ("H003", 12_000), ("H004", 13_000),
             ("H005", 99_000)]
        )
    ]  # fmt: skip
    return build_report(
        Month(2025, 9), findings if with_data else [], claims if with_data else [], [],
        drug_codes={"X"}, facilities=FACILITIES, generated=datetime(2025, 10, 1, tzinfo=UTC),
    )  # fmt: skip


def test_the_page_inlines_one_svg_per_chart_and_fetches_nothing() -> None:
    html = render_report(_report()).html
    assert html.count("<svg") == len(CHARTS)
    for name in CHARTS:
        assert re.search(rf'<figure id="chart-{name}"><svg', html), name
    assert "<?xml" not in html and "<!DOCTYPE svg" not in html  # inline elements, not files
    assert not re.search(r'(src|href)="(https?:)?//', html)  # no script, style or font fetched
    assert "<script" not in html and "@import" not in html and "<link" not in html
    assert "@media print" in html


def test_the_page_names_rules_facilities_and_flags_in_chinese() -> None:
    html = render_report(_report()).html
    for name in ("重复收费 Duplicate charge", "分解住院 Split admission", "宜昌市妇幼保健院",
                 "西陵区", "三级医院", "次均费用"):  # fmt: skip
        assert name in html, name
    # H005's cost per visit (990 yuan) is beyond its four peers' upper fence: its row is marked
    flagged = re.findall(r'<tr class="flag-high"><td[^>]*>cost-per-visit</td>.*?</tr>', html)
    assert len(flagged) == 1 and "H005" in flagged[0]


def test_the_csvs_have_the_tables_columns() -> None:
    files = render_report(_report())
    tables = {t.name: t for t in files.tables}
    by_rule = list(csv.reader(io.StringIO(table_csv(tables["by-rule"]))))
    assert tuple(by_rule[0]) == ("rule", "name", *GROUP_COLUMNS)
    split = next(row for row in by_rule if row[0] == "split-admission")
    assert split[1:6] == ["分解住院 Split admission", "1", "50.00", "40.00", "0.00"]
    assert len(by_rule) == 1 + len(RuleCode)  # every rule the hub runs, the sample included
    peers = list(csv.reader(io.StringIO(table_csv(tables["peers"]))))
    assert tuple(peers[0]) == PEER_COLUMNS
    months = list(csv.reader(io.StringIO(table_csv(tables["by-month"]))))
    assert months[0] == ["month", "findings", "at_risk_yuan"] and len(months) == 13
    assert months[10] == ["2025-07", "1", "9.00"] and months[11] == ["2025-08", "0", "0.00"]
    long = list(csv.reader(io.StringIO(long_csv(files.tables))))
    assert tuple(long[0]) == LONG_COLUMNS
    assert ["by-rule", "1", "rule", by_rule[1][0]] == long[1]
    assert len(long) == 1 + sum(len(t.rows) * len(t.columns) for t in files.tables)


def test_an_empty_month_still_has_every_chart() -> None:
    report = _report(with_data=False)
    html = render_report(report).html
    assert html.count("<svg") == len(CHARTS) and report.findings == 0


def test_without_a_cjk_font_labels_fall_back_to_latin_or_codes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(report_charts, "cjk_font_available", lambda: False)
    assert chart_text("重复收费 Duplicate charge", "duplicate-charge") == "Duplicate charge"
    assert chart_text("宜昌市中心人民医院", "H001") == "H001"
    assert chart_text("西陵区") == "?"
    monkeypatch.setattr(report_charts, "cjk_font_available", lambda: True)
    assert chart_text("宜昌市中心人民医院", "H001") == "宜昌市中心人民医院"


def test_charts_are_drawn_again_only_when_their_figures_change() -> None:
    first = report_charts.report_charts(_report())
    again = report_charts.report_charts(replace(_report(), generated=datetime.now(UTC)))
    assert all(a is b for a, b in zip(first, again, strict=True))  # kept, not drawn again
    trend = [replace(m, count=m.count + 1) for m in _report().trend]
    changed = report_charts.report_charts(replace(_report(), trend=trend))
    assert [c.svg == f.svg for c, f in zip(changed, first, strict=True)].count(False) == 1
