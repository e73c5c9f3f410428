"""``hub booking ...``: generate released slots, sweep lapsed holds."""

from __future__ import annotations

from typing import Annotated

import typer

from hub.db import session_scope
from referral.scheduling import service
from referral.scheduling.facilities import bookable_facilities

booking_app = typer.Typer(help="Appointment booking: slots and holds.", no_args_is_help=True)

DEMO_FACILITIES = 3  # tertiary hospitals the demo gives slots: enough to book, quick to load
DEMO_DAYS = 2


@booking_app.command("generate-slots", help="Create the released days' slots from the templates.")
def generate_slots(
    days: Annotated[int, typer.Option(help="days ahead (today included) to create")] = 7,
    facility: Annotated[
        list[str] | None, typer.Option(help="facility code (repeat); default: all hospitals")
    ] = None,
) -> None:
    created = 0
    for code in facility or bookable_facilities():
        with session_scope() as session:
            created += service.generate_slots(session, [code], days=days)
    typer.echo(f"{created} slots created")


@booking_app.command("sweep-holds", help="Cancel the appointments whose hold has lapsed.")
def sweep_holds() -> None:
    with session_scope() as session:
        released = service.sweep_lapsed_holds(session)
    typer.echo(f"{released} lapsed holds released")


def seed_demo_slots() -> int:
    """A few days of slots for the first tertiary hospitals (``hub seed`` / ``hub demo``)."""
    created = 0
    for code in bookable_facilities(tertiary_only=True, limit=DEMO_FACILITIES):
        with session_scope() as session:
            created += service.generate_slots(session, [code], days=DEMO_DAYS)
    return created
