"""``hub demo``: an embedded hub on one machine (SQLite and keys in the home's var/, no other
servers), and ``hub demo --reset``, which deletes that data and sets it up afresh."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from hub.audit.keys import CHECKPOINT_KEY_FILE, HMAC_KEY_FILE
from hub.cli.progress import progress_bar
from hub.db import reset_engine, session_scope
from hub.demo.console_accounts import ensure_demo_accounts, sign_in_text
from hub.home import sqlite_database_file
from hub.migrate import upgrade_database
from hub.region.facilities import load_facilities
from hub.seeding import patient_count, seed_population, seed_region
from hub.settings import Environment, Settings, adopt_served_url, get_settings
from insurance.coverage_load import seed_demo_coverages
from referral.scheduling.cli import seed_demo_slots

console = Console(stderr=True, highlight=False, soft_wrap=True)  # paths stay on one line


WAL_SUFFIXES = ("-wal", "-shm")  # SQLite's write-ahead log beside the database file


class DemoResetRefused(Exception):
    """``--reset`` asked of a hub whose data is not the demo's to delete."""


def demo_files(settings: Settings) -> list[Path]:
    """The demo's own data that exists: its SQLite file (with its WAL files), the dev keys
    generated into the var dir (not keys given in settings) and the recorded served URL."""
    candidates = []
    database = sqlite_database_file(settings.effective_database_url)
    if database is not None:
        candidates += [database, *(database.with_name(database.name + s) for s in WAL_SUFFIXES)]
    if not settings.signing_key:
        candidates.append(settings.signing_key_file)
    if not settings.audit_hmac_key:
        candidates.append(settings.var_dir / HMAC_KEY_FILE)
    if not settings.audit_checkpoint_key:
        candidates.append(settings.var_dir / CHECKPOINT_KEY_FILE)
    candidates.append(settings.served_url_file)
    return [path for path in candidates if path.exists()]


def reset_demo(settings: Settings) -> None:
    """Delete the demo's data, after naming it. Never a server database, never in production."""
    if settings.environment is Environment.PRODUCTION:
        raise DemoResetRefused("refusing --reset with HUB_ENVIRONMENT=production")
    if sqlite_database_file(settings.effective_database_url) is None:
        raise DemoResetRefused(
            f"refusing --reset: {settings.masked_database_url} is not an SQLite file; "
            "the demo never drops a server database"
        )
    files = demo_files(settings)
    if not files:
        console.print(f"--reset: no demo data in {settings.var_dir}")
    for path in files:
        console.print(f"--reset: deleting {path}")
        path.unlink(missing_ok=True)
    reset_engine()  # nothing has opened the database yet; no stale engine either way


def run_demo(
    *,
    host: str,
    port: int,
    residents: int,
    serve: bool,
    mllp_port: int = 2575,
    reset: bool = False,
) -> None:
    if reset:
        reset_demo(get_settings())
    # Tokens name the hub's URL as issuer and audience: recorded for `hub token` in any shell.
    settings = adopt_served_url(host, port)
    base = settings.public_base_url
    if settings.public_base_url_origin == "configured":
        console.print(
            f"HUB_PUBLIC_BASE_URL is {base}: tokens name it as issuer; "
            f"clients must reach this hub there (it listens on {host}:{port})"
        )
    console.print(f"[bold]Yichang Regional Health Hub[/bold] — data and keys in {settings.var_dir}")
    upgrade_database()
    with progress_bar("region facilities", len(load_facilities())) as advance:
        seed_region(advance)
    console.print(f"booking: {seed_demo_slots()} slots released for the demo hospitals")
    missing = max(0, residents - patient_count())
    if missing:
        with progress_bar("synthetic residents", residents) as advance:
            seed_population(residents, progress=advance)
    console.print(f"insurance: {seed_demo_coverages()} Coverages written for the residents")
    console.print(f"{patient_count()} Patients and {len(load_facilities())} facilities loaded")
    accounts = ""
    if settings.environment is not Environment.PRODUCTION:  # the demo's passwords are public
        with session_scope() as session:
            accounts = sign_in_text(base, ensure_demo_accounts(session)) + "\n"
    print(  # plain print: the commands must not be wrapped
        "\nGet a token and make a first call (from any folder):\n"
        f"  export PATH={Path(sys.executable).parent}:$PATH\n"
        "  TOKEN=$(hub token --facility H001 --role practitioner)\n"
        f'  curl -G -H "Authorization: Bearer $TOKEN" --data-urlencode family=李 '
        f"-d _count=3 '{base}/fhir/Patient'\n"
        f"API docs: {base}/docs    CapabilityStatement: {base}/fhir/metadata\n"
        "Start afresh: hub demo --reset (deletes the demo's database and dev keys)\n"
        f"{accounts}",
        flush=True,
    )
    if serve:
        from hub.cli.hl7_commands import check_mllp_senders, start_mllp_in_background
        from hub.server import run_server

        check_mllp_senders()
        start_mllp_in_background(mllp_port)
        print(f"HL7 v2 (MLLP) listener on {host}:{mllp_port}; try: hub messages list", flush=True)
        print("Stop the demo with Ctrl-C (API and listener stop; the data stays)", flush=True)
        run_server(host, port)
