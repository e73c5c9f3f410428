"""The monthly report as files: one self-contained HTML page (the charts inline as SVG, the
styles inline, nothing fetched) and CSVs of the same tables. No I/O: the CLI writes the files,
the API sends them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from insurance.claims_audit.monthly_report import MonthlyReport, Table, report_tables
from insurance.claims_audit.peer_figures import MIN_PEERS
from insurance.claims_audit.report_charts import Chart, report_charts

TITLE = "医保稽核月报 Claims audit monthly report"
LONG_COLUMNS = ("table", "row", "column", "value")
# the page's sections: (anchor, heading, charts, tables)
SECTIONS = (
    ("rules", "规则 Rules", ("by-rule", "amounts-by-rule", "review-by-rule"), ("by-rule",)),
    ("facilities", "机构 Facilities", ("by-facility", "amounts-by-facility"), ("by-facility",)),
    ("districts", "区县 Districts", ("by-district",), ("by-district",)),
    ("trend", "趋势 Trend", ("by-month",), ("by-month",)),
    (
        "peers",
        "同级比较 Peers",
        ("peers-cost-per-visit", "peers-drug-share", "peers-readmission-rate"),
        ("peers", "facility-metrics"),
    ),
)

_environment = Environment(
    loader=PackageLoader("insurance.claims_audit", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
)


@dataclass(frozen=True)
class ReportFiles:
    html: str
    tables: list[Table]


def _cell(value: object) -> dict[str, Any]:
    return {"text": value, "num": isinstance(value, int | Decimal)}


def _rows(table: Table) -> list[dict[str, Any]]:
    flag_at = table.columns.index("flag") if "flag" in table.columns else None
    return [
        {
            "cells": [_cell(v) for v in row],
            "flag": row[flag_at] if flag_at is not None and row[flag_at] in ("high", "low") else "",
        }
        for row in table.rows
    ]


def render_html(report: MonthlyReport, tables: Sequence[Table], charts: Sequence[Chart]) -> str:
    by_name = {c.name: c for c in charts}
    table_of = {t.name: t for t in tables}
    sections = [
        {
            "name": name,
            "title": title,
            "charts": [by_name[c] for c in chart_names],
            "tables": [
                {"name": t, "title": table_of[t].title, "columns": table_of[t].columns,
                 "rows": _rows(table_of[t])}
                for t in table_names
            ],
        }
        for name, title, chart_names, table_names in SECTIONS
    ]  # fmt: skip
    return _environment.get_template("report.html").render(
        title=TITLE,
        month=str(report.month),
        facility=report.facility,
        findings=report.findings,
        generated=report.generated.isoformat(timespec="seconds"),
        min_peers=MIN_PEERS,
        sections=sections,
    )


def render_report(report: MonthlyReport) -> ReportFiles:
    tables = report_tables(report)
    return ReportFiles(render_html(report, tables, report_charts(report)), tables)


def table_csv(table: Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows(table.rows)
    return out.getvalue()


def long_csv(tables: Sequence[Table]) -> str:
    """Every table in one CSV, one value a line: ``table,row,column,value`` (rows from 1)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(LONG_COLUMNS)
    for table in tables:
        for number, row in enumerate(table.rows, start=1):
            writer.writerows(
                (table.name, number, c, v) for c, v in zip(table.columns, row, strict=True)
            )
    return out.getvalue()
