"""The inbox's Celery tasks: drain a facility's due messages; sweep for lost notifications.

Imported by :mod:`hub.wiring`, which also puts the sweeper on the beat schedule.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import OperationalError

from adapters.hl7v2.processing import drain_facility, facilities_due
from hub.db import session_scope
from hub.worker import celery_app

log = logging.getLogger("adapters.hl7v2.tasks")
PROCESS_FACILITY = "hub.hl7v2.process_facility"  # the stable name publishers send


@celery_app.task(
    name=PROCESS_FACILITY,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=10,
)
def process_facility_task(facility_code: str) -> int:
    """Drain one facility's due messages, in order, for one turn; returns how many were
    processed. With work left, the facility goes to the back of the queue, behind the others."""
    progress = drain_facility(facility_code)
    if progress.more:
        try:
            process_facility_task.apply_async(args=[facility_code], retry=False)
        except Exception as exc:  # the broker is away: the sweeper finds the facility again
            log.warning("could not queue %s's next turn (%s)", facility_code, type(exc).__name__)
    return progress.processed


@celery_app.task(name="hub.hl7v2.sweep_inbox")
def sweep_inbox() -> int:
    """Publish work for every facility with due messages (lost notifications, retries)."""
    with session_scope() as session:
        codes = facilities_due(session)
    for code in codes:
        process_facility_task.apply_async(args=[code], retry=False)
    return len(codes)
