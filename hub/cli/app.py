"""Typer application wiring the command groups together."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from hub.cli.audit_commands import (
    audit_break_glass,
    audit_checkpoint,
    audit_keygen,
    audit_link,
    audit_prune,
    audit_verify,
)
from hub.cli.auth_commands import clients_app, token_command
from hub.cli.hl7_commands import messages_app, mllp_command, worker_command
from hub.cli.insurance_commands import insurance_app
from hub.cli.keys_commands import keys_app
from hub.cli.mpi_commands import mpi_app
from hub.cli.output import FormatOption, OutputFormat, print_rows
from hub.cli.progress import progress_bar
from hub.cli.send_command import send_command
from hub.cli.startup import announce
from hub.cli.synth_claims_commands import synth_claims, synth_claims_score
from hub.cli.users_commands import users_app
from insurance.coverage_load import seed_demo_coverages
from referral.cli import referrals_app
from referral.scheduling.cli import booking_app, seed_demo_slots

app = typer.Typer(
    help="Yichang Regional Health Hub", no_args_is_help=True, pretty_exceptions_show_locals=False
)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
facilities_app = typer.Typer(help="The region's facility registry", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log", no_args_is_help=True)
synth_app = typer.Typer(help="Synthetic data for tests and benchmarks", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(facilities_app, name="facilities")
app.add_typer(audit_app, name="audit")
audit_app.command("verify")(audit_verify)
audit_app.command("link")(audit_link)
audit_app.command("checkpoint")(audit_checkpoint)
audit_app.command("keygen")(audit_keygen)
audit_app.command("break-glass")(audit_break_glass)
audit_app.command("prune")(audit_prune)
app.add_typer(synth_app, name="synth")
synth_app.command(
    "claims",
    help="Write a region's month of settled claims (NDJSON per resource type) with fraud "
    "patterns planted at --rate and near-misses, and truth.csv; --load bulk-loads them.",
)(synth_claims)
synth_app.command(
    "claims-score",
    help="Per-rule precision and recall of the recorded claims-audit findings against truth.csv.",
)(synth_claims_score)
app.add_typer(clients_app, name="clients")
app.add_typer(mpi_app, name="mpi")
app.add_typer(messages_app, name="messages")
messages_app.command("send")(send_command)
app.add_typer(keys_app, name="keys")
app.add_typer(booking_app, name="booking")
app.add_typer(referrals_app, name="referrals")
app.add_typer(insurance_app, name="insurance")
app.add_typer(users_app, name="users")
app.command("mllp")(mllp_command)
app.command("worker")(worker_command)
app.command("token", help="Mint an access token (for scripts and tests); prints only the token.")(
    token_command
)
console = Console(stderr=True)


# Commands that never write through the FHIR store, so need no write hooks; a write without
# them is refused (hub.events.NotWired), never run half-wired.
READS_ONLY = frozenset({"token", "facilities", "clients"})


@app.callback()
def startup(
    ctx: typer.Context,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet",
            "-q",
            envvar="HUB_QUIET",
            help="do not print the home, database, signing key and issuer on stderr",
        ),
    ] = False,
) -> None:
    announce(quiet)
    if ctx.invoked_subcommand in READS_ONLY:
        return
    # Imported here, not at the top: the wiring loads every service and adapter (about a
    # second), which --help, a typo or `hub token` in a script should not wait for (CLI
    # start-up speed, not an import circle).
    from hub.wiring import wire

    wire()  # every command that writes runs the same hooks as the API and the worker


@db_app.command("upgrade", help="Apply the schema migrations (Alembic) to HUB_DATABASE_URL.")
def db_upgrade() -> None:
    from hub.migrate import upgrade_database

    upgrade_database()
    console.print("database is at the latest schema")


@db_app.command(
    "reindex",
    help="Rebuild the search index rows of stored resources (after an upgrade that indexes "
    "more, e.g. the origin and sensitivity rows the consent filter reads). Safe while serving.",
)
def db_reindex(
    resource_type: Annotated[
        str | None, typer.Option("--type", help="Only this resource type")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 500,
) -> None:
    from hub.cli.progress import progress_bar
    from hub.fhir.reindex import count_resources, reindex

    with progress_bar("reindexing", count_resources(resource_type)) as advance:
        done = reindex(resource_type, batch_size=batch_size, progress=advance)
    console.print(f"reindexed {done} resources")


@app.command(help="Load the region's facilities and, optionally, a synthetic population.")
def seed(
    population: Annotated[int, typer.Option(help="synthetic residents to add")] = 0,
    population_seed: Annotated[int, typer.Option(help="random seed of the population")] = 0,
    bulk: Annotated[
        bool,
        typer.Option(
            "--bulk",
            help="load the population in large batches (COPY on PostgreSQL): a trusted "
            "operator path without per-resource validation, one audit entry per batch, and "
            "no registration in the master patient index",
        ),
    ] = False,
) -> None:
    from hub.migrate import upgrade_database
    from hub.region.facilities import load_facilities
    from hub.seeding import seed_population, seed_population_bulk, seed_region

    upgrade_database()
    with progress_bar("facilities", len(load_facilities())) as advance:
        created = seed_region(advance)
    console.print(f"region registry: {created} resources written")
    console.print(f"booking: {seed_demo_slots()} slots created for the demo hospitals")
    if population:
        with progress_bar("residents", population) as advance:
            load = seed_population_bulk if bulk else seed_population
            added = load(population, seed=population_seed, progress=advance)
        console.print(f"population: {added} Patients written")
    console.print(f"insurance: {seed_demo_coverages()} Coverages written for the residents")


@facilities_app.command("list", help="Print the facility registry.")
def facilities_list(output: FormatOption = OutputFormat.table) -> None:
    from hub.region.facilities import TABLE_COLUMNS, facilities_table_rows, load_facilities

    rows = facilities_table_rows(load_facilities())
    print_rows(rows, TABLE_COLUMNS, output, title=f"Yichang region: {len(rows)} facilities")


@app.command(
    help="Run the API server (uvicorn) on a migrated database (`hub db upgrade`). Unless "
    "HUB_PUBLIC_BASE_URL is set, the hub names http://HOST:PORT as its URL and records it in "
    "the var dir, so `hub token` from any shell signs for it."
)
def serve(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[
        int,
        typer.Option(min=0, help="worker processes; 0: one per core (SQLite: always one)"),
    ] = 0,
) -> None:
    from hub.cli.startup import database_problem
    from hub.server import run_server, worker_count
    from hub.settings import adopt_served_url, get_settings

    problem = database_problem(adopt_served_url(host, port))
    if problem:
        typer.echo(f"hub: {problem}", err=True)
        raise typer.Exit(1)
    processes = worker_count(workers, get_settings().effective_database_url)
    if processes != workers and workers > 1:
        typer.echo(f"hub: SQLite serves from one process (--workers {workers} ignored)", err=True)
    run_server(host, port, processes, get_settings().log_format)


@app.command(
    help="Set up an embedded demo hub (SQLite and keys in the home's var/, no other servers) "
    "and serve it until Ctrl-C."
)
def demo(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    residents: Annotated[int, typer.Option(help="synthetic residents")] = 10_000,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="start the API")] = True,
    mllp_port: Annotated[int, typer.Option(help="HL7 v2 MLLP listener port")] = 2575,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset",
            help="first delete the demo's SQLite database and the dev keys generated into the "
            "var dir, then set up afresh (refused for a server database and in production)",
        ),
    ] = False,
) -> None:
    from hub.demo.run import DemoResetRefused, run_demo

    try:
        run_demo(
            host=host,
            port=port,
            residents=residents,
            serve=serve_api,
            mllp_port=mllp_port,
            reset=reset,
        )
    except DemoResetRefused as exc:
        typer.echo(f"hub: {exc}", err=True)
        raise typer.Exit(2) from None


@synth_app.command(
    "population",
    help="Write facility CSVs of a synthetic population with desk errors, and the ground truth "
    "(truth.csv, pairs_hard_negative.csv) for record linkage.",
)
def synth_population(
    people: Annotated[int, typer.Option(min=1, help="synthetic people")],
    out: Annotated[Path, typer.Option(file_okay=False, help="output directory")],
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    from hub.demo.population_export import write_population

    with progress_bar("people", people) as advance:
        files = write_population(out, people, seed=seed, progress=advance)
    console.print(
        f"{files.people} people, {files.records} records "
        f"({files.records_with_errors} with desk errors) in {files.facility_files} facility files; "
        f"hard non-matches: {files.twin_pairs} twin pairs, {files.namesake_pairs} namesake pairs "
        f"({files.hard_negative_pairs} record pairs); written to {out}"
    )
