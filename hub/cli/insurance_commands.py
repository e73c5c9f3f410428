"""``hub insurance ...``: load Coverages in bulk, print the catalogue."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from hub.cli.errors import BAD_INPUT, NOT_FOUND, fail
from hub.cli.output import FormatOption, OutputFormat, print_rows
from hub.cli.progress import progress_bar
from insurance.catalogue import CATALOGUE_COLUMNS, catalogue_rows
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
