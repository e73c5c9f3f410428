"""``hub demo``: an embedded hub on one machine (SQLite under ./var, no other servers)."""

from __future__ import annotations

from rich.console import Console

from hub.cli.progress import progress_bar
from hub.migrate import upgrade_database
from hub.region.facilities import load_facilities
from hub.seeding import patient_count, seed_population, seed_region
from hub.settings import get_settings

console = Console(stderr=True)


def run_demo(*, host: str, port: int, residents: int, serve: bool) -> None:
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
            advance(residents - missing)
            seed_population(residents, progress=advance)
    console.print(f"{patient_count()} Patients and {len(load_facilities())} facilities loaded")
    base = f"http://{host}:{port}"
    console.print(
        "\nGet a token and make a first call:\n"
        "  TOKEN=$(hub token --facility H001 --role practitioner)\n"
        f"  curl -H \"Authorization: Bearer $TOKEN\" '{base}/fhir/Patient?family=李&_count=3'\n"
        f"API docs: {base}/docs    CapabilityStatement: {base}/fhir/metadata\n"
    )
    if serve:
        from hub.server import run_server

        if port != 8000 or host != "127.0.0.1":
            console.print(
                "(tokens minted with `hub token` carry "
                f"HUB_PUBLIC_BASE_URL={settings.public_base_url})"
            )
        run_server(host, port)
