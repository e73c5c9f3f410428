"""``hub insurance ...``: load Coverages in bulk, print the catalogue; the demo's Coverages."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer

from hub.auth.actor import SYSTEM_ACTOR
from hub.cli.errors import BAD_INPUT, NOT_FOUND, fail
from hub.cli.output import FormatOption, OutputFormat, print_rows
from hub.cli.progress import progress_bar
from hub.db import session_scope
from hub.fhir.store import FhirStore
from hub.security.fields import get_cipher
from hub.settings import get_settings
from insurance.catalogue import CATALOGUE_COLUMNS, catalogue_rows
from insurance.coverage_csv import CoverageRow, coverage_id, parse_coverage_csv
from insurance.coverage_load import load_coverages
from insurance.policy import Scheme
from insurance.policy_source import configured_policy
from insurance.resources import coverage_resource

insurance_app = typer.Typer(help="Medical-insurance settlement", no_args_is_help=True)

DEMO_REGION = "420502"
DEMO_BALANCE_FEN = 50_000  # 500 yuan in every demo resident's personal account


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


def _demo_coverage(patient_id: str, index: int) -> CoverageRow:
    """Every other resident an employee (UEBMI), the rest residents' insurance (URRBMI)."""
    scheme = Scheme.UEBMI if index % 2 == 0 else Scheme.URRBMI
    insured = f"demo-{patient_id}"
    body = coverage_resource(patient_id, scheme, DEMO_REGION, DEMO_BALANCE_FEN, insured)
    return CoverageRow(index, patient_id, dict(body, id=coverage_id(insured)))


def seed_demo_coverages() -> int:
    """A Coverage for each synthetic resident without one (``hub seed`` / ``hub demo``):
    ids only are read, and only the missing Coverages are written, so a restart costs a query."""
    settings = get_settings()
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, get_cipher(), settings.fhir_base_url)
        residents = sorted(p for p in store.system.ids("Patient") if p.startswith("res-"))
        have = store.system.ids("Coverage")
    missing = [
        _demo_coverage(patient, index)
        for index, patient in enumerate(residents)
        if coverage_id(f"demo-{patient}") not in have
    ]
    return load_coverages(missing).loaded if missing else 0
