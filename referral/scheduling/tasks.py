"""Booking's Celery tasks: release lapsed holds; generate the day's released slots.

Both idempotent, with stable names; :mod:`hub.wiring` puts them on the beat schedule.
"""

from __future__ import annotations

from hub.db import session_scope
from hub.worker import celery_app
from referral.scheduling import service
from referral.scheduling.facilities import bookable_facilities

HOLD_SWEEP_SECONDS = 15.0


@celery_app.task(name="hub.booking.sweep_holds")
def sweep_holds() -> int:
    """Cancel the Appointments whose hold lapsed (their places were freed at expiry already:
    the booking statement releases lapsed holds itself; this makes the resources say so)."""
    with session_scope() as session:
        return service.sweep_lapsed_holds(session)


@celery_app.task(name="hub.booking.generate_slots")
def generate_slots(days: int = 7) -> int:
    """Create the slots released since the last run (run at the release time, daily)."""
    created = 0
    for facility in bookable_facilities():
        with session_scope() as session:
            created += service.generate_slots(session, [facility], days=days)
    return created
