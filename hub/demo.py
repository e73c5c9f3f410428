"""``hub demo``: an embedded hub on one machine (SQLite under ./var, no other servers)."""

from __future__ import annotations

import os

from rich.console import Console

from hub.cli.progress import progress_bar
from hub.migrate import upgrade_database
from hub.region.facilities import load_facilities
from hub.seeding import patient_count, seed_population, seed_region
from hub.settings import get_settings

console = Console(stderr=True)


def run_demo(*, host: str, port: int, residents: int, serve: bool, mllp_port: int = 2575) -> None:
    base = f"http://{host}:{port}"
    export_base = ""
    if "HUB_PUBLIC_BASE_URL" not in os.environ and base != get_settings().public_base_url:
        # Tokens name the hub's URL as issuer and audience: keep CLI and server in agreement.
        os.environ["HUB_PUBLIC_BASE_URL"] = base
        get_settings.cache_clear()
        export_base = f"  export HUB_PUBLIC_BASE_URL={base}\n"
    settings = get_settings()
    console.print(
        f"[bold]Yichang Regional Health Hub[/bold] — database "
        f"{settings.effective_database_url.split('@')[-1]}"
    )
    upgrade_database()
    with progress_bar("region facilities", len(load_facilities())) as advance:
        seed_region(advance)
    missing = max(0, residents - patient_count())
    if missing:
        with progress_bar("synthetic residents", residents) as advance:
            seed_population(residents, progress=advance)
    console.print(f"{patient_count()} Patients and {len(load_facilities())} facilities loaded")
    print(  # plain print: the commands must not be wrapped
        "\nGet a token and make a first call:\n"
        "  export PATH=$PWD/.venv/bin:$PATH\n"
        f"{export_base}"
        "  TOKEN=$(hub token --facility H001 --role practitioner)\n"
        f'  curl -G -H "Authorization: Bearer $TOKEN" --data-urlencode family=李 '
        f"-d _count=3 '{base}/fhir/Patient'\n"
        f"API docs: {base}/docs    CapabilityStatement: {base}/fhir/metadata\n",
        flush=True,
    )
    if serve:
        from hub.cli.hl7_commands import check_mllp_senders, start_mllp_in_background
        from hub.server import run_server

        check_mllp_senders()
        start_mllp_in_background(mllp_port)
        print(f"HL7 v2 (MLLP) listener on {host}:{mllp_port}; try: hub messages list", flush=True)
        run_server(host, port)
