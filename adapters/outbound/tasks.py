"""The outbox's Celery tasks: deliver a destination's due rows; sweep for lost wake-ups.

Imported by :mod:`hub.wiring`, which also puts the sweeper on the beat schedule.
"""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from adapters.outbound.delivery import destinations_due, drain_destination
from hub.db import session_scope
from hub.worker import celery_app

DELIVER_DESTINATION = "hub.outbound.deliver_destination"  # the stable name publishers send


@celery_app.task(
    name=DELIVER_DESTINATION,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=10,
)
def deliver_destination_task(facility_code: str) -> int:
    """Deliver one facility's due outbox rows, in order; returns how many were delivered."""
    return drain_destination(facility_code).delivered


@celery_app.task(name="hub.outbound.sweep_outbox")
def sweep_outbox() -> int:
    """Publish delivery for every facility with due outbox rows (lost wake-ups, retries)."""
    with session_scope() as session:
        codes = destinations_due(session)
    for code in codes:
        deliver_destination_task.apply_async(args=[code], retry=False)
    return len(codes)
