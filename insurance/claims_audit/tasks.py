"""The claims audit's Celery tasks: audit a facility's newly settled claims; sweep for lost
wake-ups. Imported by :mod:`hub.wiring`, which puts the sweeper on the beat schedule."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from hub.db import session_scope
from hub.worker import celery_app
from insurance.claims_audit.queue import AUDIT_FACILITY_TASK, drain_facility, facilities_due

SWEEP_SECONDS = 30.0


@celery_app.task(
    name=AUDIT_FACILITY_TASK,
    acks_late=True,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=10,
)
def audit_facility_claims(facility_code: str) -> int:
    """Audit one facility's pending settled claims; returns how many were audited."""
    return drain_facility(facility_code).audited


@celery_app.task(name="hub.insurance.sweep_claims_audit")
def sweep_claims_audit() -> int:
    with session_scope() as session:
        codes = facilities_due(session)
    for code in codes:
        audit_facility_claims.apply_async(args=[code], retry=False)
    return len(codes)
