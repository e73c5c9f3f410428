"""``hub mpi``: bulk load, links export, retraining and thresholds of the master patient index.

Exit codes: 0 done (a load with rejected rows is done: the other rows loaded); 1 the command
failed while working; 2 the input was refused before anything was written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.cli.errors import (
    BAD_INPUT,
    domain_errors,
    fail,
    nothing_listed,
    require_facility,
)
from hub.cli.output import FormatOption, OutputFormat, print_rows
from hub.cli.progress import progress_bar

if TYPE_CHECKING:
    from hub.mpi.loading import LoadReport
    from hub.mpi.matching import MatchModel

mpi_app = typer.Typer(help="The master patient index", no_args_is_help=True)
console = Console(stderr=True, highlight=False, soft_wrap=True)


@mpi_app.command(
    "load",
    help="Load a facility's patient list (CSV, UTF-8; columns in the README) into the index. "
    "Prints rejected rows as 'row N: field: message'. Exit 2 if the file is refused before "
    "anything is written.",
)
def mpi_load(
    file: Annotated[Path, typer.Argument(help="the CSV file", dir_okay=False)],
    facility: Annotated[str, typer.Option(help="the facility's code (hub facilities list)")],
    batch_size: Annotated[int, typer.Option(min=1, help="rows per transaction")] = 500,
) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from hub.mpi.loading import BulkLoadError, inspect_csv, load_csv

    try:
        check = inspect_csv(file, facility)
        with progress_bar("rows", check.rows) as advance:
            report = load_csv(file, facility, progress=advance, batch_size=batch_size)
    except BulkLoadError as exc:
        raise fail(f"not loaded: {exc}", 2) from None
    except SQLAlchemyError as exc:
        raise fail(
            f"load stopped by a database error ({type(exc).__name__}); the batches before it are "
            "committed and loading the file again continues where it stopped",
            1,
        ) from None
    for issue in report.rejected:
        typer.echo(f"row {issue.row}: {issue.field}: {issue.message}")
    _print_load_summary(report)


def _print_load_summary(report: LoadReport) -> None:
    by_field: dict[str, int] = {}
    for issue in report.flagged:
        by_field[issue.field] = by_field.get(issue.field, 0) + 1
    flagged = ", ".join(f"{n} {name}" for name, n in sorted(by_field.items())) or "none"
    lines = [
        f"{report.rows} rows: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.rejected)} rejected",
        f"values kept as typed but not matched on: {flagged}",
        f"new records: {report.linked} linked to an existing person, {report.persons_created} "
        f"new persons ({report.review} of them queued for review)",
        f"{report.batches} batch(es) in {report.seconds:.1f} s "
        f"({report.rows_per_second:.0f} rows/s)",
    ]
    for line in lines:
        console.print(line, markup=False)


@mpi_app.command("links", help="Export the links: facility,source_id,person_id,state,score.")
def mpi_links(
    output: FormatOption = OutputFormat.table,
    facility: Annotated[str | None, typer.Option(help="only this facility's records")] = None,
) -> None:
    from hub.db import session_scope
    from hub.mpi.operations import LINK_COLUMNS, iter_links

    require_facility(facility)
    with domain_errors(), session_scope() as session:
        links = (link.as_row() for link in iter_links(session, facility=facility))
        count = print_rows(links, LINK_COLUMNS, output, title="Links of source records to persons")
    if not count:
        nothing_listed("no source records in the index" + (f" for {facility}" if facility else ""))


@mpi_app.command(
    "train",
    help="Retrain the match model (EM) on the index's own source records, or on a synthetic "
    "population; store and activate it, or write it to --out.",
)
def mpi_train(
    synthetic: Annotated[
        int | None, typer.Option(min=100, help="train on this many synthetic people instead")
    ] = None,
    seed: Annotated[int, typer.Option(help="random seed (sampling, synthetic population)")] = 0,
    out: Annotated[
        Path | None, typer.Option(dir_okay=False, help="write the model JSON here, do not store")
    ] = None,
    upper: Annotated[float | None, typer.Option(help="link at or above (default 0.99)")] = None,
    lower: Annotated[float | None, typer.Option(help="review at or above (default 0.5)")] = None,
) -> None:
    from hub.db import session_scope
    from hub.mpi.operations import ModelAdminError, store_model, train_model
    from hub.security.fields import get_cipher

    if out is not None and not out.parent.is_dir():
        raise fail(f"cannot write {out}: {out.parent} is not a directory", BAD_INPUT)
    try:
        if synthetic is not None:
            from hub.demo.mpi_training_data import synthetic_features

            records = [features for features, _ in synthetic_features(synthetic, seed=seed)]
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            version = f"fs-synthetic{synthetic}-seed{seed}-{stamp}"
        else:
            from hub.mpi.operations import stored_features

            with session_scope() as session:  # read, then train outside any transaction
                records = stored_features(session, get_cipher())
            version = None
        console.print(f"training on {len(records)} records ...", markup=False)
        model = train_model(records, seed=seed, upper=upper, lower=lower, version=version)
        if out is None:
            with session_scope() as session:
                store_model(session, model)
    except ModelAdminError as exc:
        raise fail(str(exc), 2) from None
    if out is not None:
        out.write_text(model.to_json() + "\n", encoding="utf-8")
    _print_model(model)
    typer.echo(f"written to {out}" if out is not None else "stored and activated")


def _print_model(model: MatchModel) -> None:
    notes = model.notes
    typer.echo(f"model {model.version}")
    typer.echo(
        f"thresholds: link at probability >= {model.upper_threshold}, "
        f"review at >= {model.lower_threshold}"
    )
    if "records" in notes:
        converged = "converged" if notes.get("em_converged") else "did NOT converge"
        typer.echo(
            f"trained on {notes['records']} records, {notes.get('candidate_pairs', '?')} "
            f"candidate pairs; EM {converged} in {notes.get('em_iterations', '?')} iterations; "
            f"prior {model.prior:.3g}"
        )


@mpi_app.command(
    "relink",
    help="Re-link every source record in batch with the active model (after the initial load "
    "and `hub mpi train`). Stewards' manual links and unlinks stand; a person keeps its "
    "enterprise id when most of its records stay together. --dry-run only counts the changes. "
    "Safe to run again after an interruption.",
)
def mpi_relink(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, change nothing")] = False,
    batch_size: Annotated[int, typer.Option(min=1, help="persons per transaction")] = 500,
) -> None:
    from hub.mpi.loading import relink
    from hub.security.fields import get_cipher

    console.print("deciding every source record with the active model ...", markup=False)
    if dry_run:
        summary = relink(get_cipher(), dry_run=True)
    else:
        from sqlalchemy import func, select

        from hub.db import session_scope
        from hub.mpi.models import SourceRow

        with session_scope() as session:
            total = int(session.execute(select(func.count()).select_from(SourceRow)).scalar_one())
        with progress_bar("records", total) as advance:
            summary = relink(get_cipher(), batch_size=batch_size, progress=advance)
    table = Table(title="relink" + (" (dry run: nothing changed)" if dry_run else ""))
    table.add_column("")
    table.add_column("count", justify="right")
    rows = [("source records", summary.sources),
            ("kept as stewards decided", summary.frozen_sources),
            ("persons after", summary.clusters), ("records moving", summary.moved),
            ("persons merging", summary.merged), ("persons splitting", summary.split),
            ("new persons", summary.new_persons), ("review items", summary.reviews),
            ("earlier review items answered", summary.superseded)]  # fmt: skip
    for label, value in rows:
        table.add_row(label, str(value))
    Console(highlight=False).print(table)


@mpi_app.command(
    "thresholds",
    help="Activate a new version of the active model with other thresholds (0 < lower < upper "
    "< 1): link at or above --upper, queue for review at or above --lower.",
)
def mpi_thresholds(
    upper: Annotated[float | None, typer.Option(help="link at or above this probability")] = None,
    lower: Annotated[float | None, typer.Option(help="review at or above this probability")] = None,
) -> None:
    from hub.db import session_scope
    from hub.mpi.operations import ModelAdminError, set_thresholds

    if upper is None and lower is None:
        raise fail("give --upper and/or --lower", 2)
    try:
        with session_scope() as session:
            old, new = set_thresholds(session, upper=upper, lower=lower)
    except ModelAdminError as exc:
        raise fail(str(exc), 2) from None
    _print_model(new)
    typer.echo(
        f"activated (was {old.version}: link >= {old.upper_threshold}, "
        f"review >= {old.lower_threshold})"
    )
