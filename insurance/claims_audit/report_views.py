"""``GET /insurance/claims-audit/report?month=YYYY-MM``: the claims audit's monthly report for
the fund's auditors (the ``insurance-auditor`` role), operators and the compliance auditor.

``format=html`` (default): one self-contained page, charts inline as SVG. ``format=csv``: every
table in one CSV (``table,row,column,value``), or one table's own CSV with ``table=NAME``.
Refusals are OperationOutcomes (403 for any other role, 400 for a bad month or table), and the
app's error handler audits them; a report's reads are audited by the store.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query, Response

from hub.deps import NO_NUL, CurrentActor, unit_of_work
from hub.errors import InvalidRequest
from insurance.claims_audit.monthly_report import TABLE_NAMES, report_tables
from insurance.claims_audit.report_figures import Month
from insurance.claims_audit.report_page import long_csv, render_report, table_csv
from insurance.claims_audit.report_service import monthly_report, require_report_reader

router = APIRouter(prefix="/insurance", tags=["Insurance claims audit"])
FACILITY_CODE = r"^[A-Za-z0-9\-.]{1,64}$"  # a FHIR id, as the registry's codes are
TEXT = {"schema": {"type": "string"}}


class ReportFormat(StrEnum):
    html = "html"
    csv = "csv"


@router.get(
    "/claims-audit/report",
    summary="The claims audit's monthly report: HTML with charts, or CSV (insurance auditors)",
    response_class=Response,
    responses={200: {"content": {"text/html": TEXT, "text/csv": TEXT}}},
)
def claims_audit_report(
    actor: CurrentActor,
    month: Annotated[str, Query(max_length=32, pattern=NO_NUL, description="YYYY-MM")],
    format: ReportFormat = ReportFormat.html,
    table: Annotated[
        str | None, Query(max_length=32, pattern=NO_NUL, description=f"CSV: one of {TABLE_NAMES}")
    ] = None,
    facility: Annotated[
        str | None, Query(pattern=FACILITY_CODE, description="one facility (its code)")
    ] = None,
) -> Response:
    require_report_reader(actor)
    try:
        asked = Month.parse(month)
    except ValueError as exc:
        raise InvalidRequest(str(exc), expression=["month"]) from None
    if table is not None and (format is not ReportFormat.csv or table not in TABLE_NAMES):
        raise InvalidRequest(f"table is one of {', '.join(TABLE_NAMES)}, with format=csv",
                             expression=["table"])  # fmt: skip
    with unit_of_work(actor) as store:
        report = monthly_report(store, asked, facility)
    stem = f"report-{asked}" + (f"-{facility}" if facility else "")
    if format is ReportFormat.html:
        return Response(render_report(report).html, media_type="text/html; charset=utf-8")
    tables = report_tables(report)
    chosen = [t for t in tables if t.name == table]
    body = table_csv(chosen[0]) if chosen else long_csv(tables)
    name = f"{stem}-{table}.csv" if chosen else f"{stem}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
