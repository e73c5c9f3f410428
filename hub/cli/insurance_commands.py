"""``hub insurance ...``: load Coverages in bulk, print the catalogue, audit a day's claims,
write the audit's monthly report, reconcile a facility's day against the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.errors import BAD_INPUT, NOT_FOUND, fail, require_facility
from hub.cli.output import FormatOption, OutputFormat, print_rows
from hub.cli.progress import progress_bar
from hub.db import session_scope
from hub.errors import FhirError
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from insurance.catalogue import CATALOGUE_COLUMNS, catalogue_rows
from insurance.claims_audit.reconcile_service import (
    RECONCILE_ACTOR,
    reconcile_day,
    upload_details,
)
from insurance.claims_audit.reconciliation import DetailFileError, parse_details
from insurance.claims_audit.report import (
    DISCREPANCY_COLUMNS,
    FINDING_COLUMNS,
    discrepancy_rows,
    finding_rows,
    totals_line,
)
from insurance.claims_audit.report_figures import Month
from insurance.claims_audit.report_service import REPORT_ACTOR, monthly_report
from insurance.claims_audit.service import CLAIMS_AUDIT_ACTOR, audit_day, record_findings
from insurance.coverage_csv import parse_coverage_csv
from insurance.coverage_load import load_coverages
from insurance.policy_source import configured_policy

insurance_app = typer.Typer(help="Medical-insurance settlement", no_args_is_help=True)


@insurance_app.command(
    "load-coverage",
    help="Load Coverages from a CSV file (header patient_id,insured_id,scheme,region,status,"
    "account_balance; balance in yuan). Idempotent: Coverages already loaded are left as they "
    "are. Refused rows are listed by row number (the header is row 1); exit 2 if any.",
)
def load_coverage(file: Annotated[Path, typer.Argument(help="the CSV file", exists=True)]) -> None:
    with file.open(encoding="utf-8-sig", newline="") as lines:
        rows = list(parse_coverage_csv(lines))
    with progress_bar("coverages", len(rows)) as advance:
        report = load_coverages(rows, progress=advance)
    typer.echo(
        f"{report.loaded} Coverages loaded, {report.already_loaded} already loaded, "
        f"{len(report.refused)} rows refused"
    )
    for refused in report.refused:
        typer.echo(f"row {refused.row}: {refused.reason}", err=True)
    if report.refused:
        raise typer.Exit(BAD_INPUT)


@insurance_app.command("catalogue", help="Print the insurance catalogue (prices in yuan).")
def catalogue(
    output: FormatOption = OutputFormat.table,
    on: Annotated[
        datetime | None, typer.Option(formats=["%Y-%m-%d"], help="policy in force that day")
    ] = None,
) -> None:
    day: date = on.date() if on else datetime.now(UTC).date()
    try:
        version = configured_policy().on(day)
    except LookupError as exc:
        raise fail(str(exc), NOT_FOUND) from None
    rows = catalogue_rows(version)
    print_rows(rows, CATALOGUE_COLUMNS, output, title=f"Insurance catalogue {version.version}")


@insurance_app.command(
    "audit",
    help="Run the claims-audit rules over the claims settled on a day and print the findings "
    "(amounts in yuan). They are recorded as DetectedIssue for the auditors, each once: a "
    "re-run records nothing twice. --dry-run only prints.",
)
def audit(
    day: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="the day")],
    facility: Annotated[
        str | None, typer.Option("--facility", help="only this facility's claims (code)")
    ] = None,
    output: FormatOption = OutputFormat.table,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print, record nothing")] = False,
) -> None:
    with session_scope() as session:
        store = FhirStore(session, CLAIMS_AUDIT_ACTOR, get_cipher(), get_settings().fhir_base_url)
        try:
            findings = audit_day(store, day.date(), facility)
        except FhirError as exc:
            raise fail(str(exc), NOT_FOUND) from None
        recorded = None if dry_run else record_findings(store, findings)
    title = f"Claims audit {day.date().isoformat()}" + (f" {facility}" if facility else "")
    print_rows(finding_rows(findings), FINDING_COLUMNS, output, title=title)
    if recorded is not None:
        typer.echo(
            f"{recorded.created} findings recorded, {recorded.already} already recorded", err=True
        )


def _out_refused(out: Path, exc: OSError) -> typer.Exit:
    return fail(f"--out: {out}: {exc.strerror or exc}", BAD_INPUT)


@insurance_app.command(
    "report",
    help="Write the claims audit's monthly report: DIR/report-YYYY-MM.html (charts inline, "
    "readable offline) and CSVs of its tables (report-YYYY-MM.csv holds them all; "
    "report-YYYY-MM-TABLE.csv each one). With --facility the names end in -CODE.",
)
def report(
    month: Annotated[str, typer.Option("--month", help="the month, YYYY-MM")],
    out: Annotated[Path, typer.Option("--out", help="the folder to write to")] = Path("."),
    facility: Annotated[
        str | None, typer.Option("--facility", help="only this facility (code)")
    ] = None,
) -> None:
    # here, not at the top: matplotlib takes about a second to import, which only this command
    # should pay (every ``hub`` command imports this module)
    from insurance.claims_audit.report_page import long_csv, render_report, table_csv

    try:
        asked = Month.parse(month)
    except ValueError as exc:
        raise fail(f"--month: {exc}", BAD_INPUT) from None
    require_facility(facility)
    try:
        out.mkdir(parents=True, exist_ok=True)  # before the work, not after it
    except OSError as exc:
        raise _out_refused(out, exc) from None
    with session_scope() as session:
        store = FhirStore(session, REPORT_ACTOR, get_cipher(), get_settings().fhir_base_url)
        found = monthly_report(store, asked, facility)
    files = render_report(found)
    stem = f"report-{asked}" + (f"-{facility}" if facility else "")
    written = {f"{stem}.html": files.html, f"{stem}.csv": long_csv(files.tables)}
    written |= {f"{stem}-{t.name}.csv": table_csv(t) for t in files.tables}
    try:
        for name, text in written.items():
            # CSVs with a BOM: Excel, where auditors open them, then reads the Chinese as UTF-8
            encoding = "utf-8-sig" if name.endswith(".csv") else "utf-8"
            (out / name).write_text(text, encoding=encoding)
    except OSError as exc:
        raise _out_refused(out, exc) from None
    typer.echo(f"{found.findings} findings in {asked}; wrote {out / f'{stem}.html'}", err=True)


@insurance_app.command(
    "reconcile",
    help="Reconcile a facility's day: its detail file (CSV: setl_id,medfee_sumamt,"
    "fund_pay_sumamt,acct_pay,refd_setl_flag; yuan) against the hub's settlements of that local "
    "day, down to the claim. Exit 0 when balanced, 1 when not, 2 for a bad file.",
)
def reconcile(
    day: Annotated[datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="the day")],
    facility: Annotated[str, typer.Option("--facility", help="the facility (code)")],
    details: Annotated[Path, typer.Option("--details", exists=True, help="the detail file")],
    output: FormatOption = OutputFormat.table,
    upload: Annotated[
        bool, typer.Option("--upload", help="also record both sides as the API's upload does")
    ] = False,
) -> None:
    try:
        lines = parse_details(details.read_bytes())
    except DetailFileError as exc:
        raise fail(f"{details}: {exc}", BAD_INPUT) from None
    with session_scope() as session:
        if upload:
            store = FhirStore(session, RECONCILE_ACTOR, get_cipher(), get_settings().fhir_base_url)
            recorded = upload_details(store, facility, day.date(), lines)
            typer.echo(f"recorded PaymentReconciliation/{recorded['id']}", err=True)
        result = reconcile_day(session, facility, day.date(), lines)
    title = f"Reconciliation {facility} {day.date().isoformat()}"
    print_rows(discrepancy_rows(result.discrepancies), DISCREPANCY_COLUMNS, output, title=title)
    typer.echo(f"facility: {totals_line(result.facility)}", err=True)
    typer.echo(f"hub:      {totals_line(result.hub)}", err=True)
    if not result.balanced:
        raise typer.Exit(1)
