"""The Celery application: ``hub worker`` runs it; the listener and the API publish to it.

Tasks take ids, are idempotent and late-acknowledged (a worker killed mid-task leaves the task to
be redelivered); there is no result backend because nobody reads results. The beat schedule runs
the inbox sweeper, which re-publishes work whose notification was lost.
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init
from sqlalchemy.exc import OperationalError

from hub.db import reset_engine, session_scope
from hub.settings import get_settings

SWEEP_SECONDS = 5.0

_settings = get_settings()
celery_app = Celery("hub", broker=_settings.celery_broker_url or "memory://")
celery_app.conf.update(
    task_default_queue=_settings.celery_queue,
    beat_schedule_filename=str(_settings.var_dir / "celerybeat-schedule"),
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    broker_connection_timeout=3,
    broker_transport_options={"visibility_timeout": 300, "max_retries": 1},
    worker_hijack_root_logger=False,
    beat_schedule={
        "sweep-hl7-inbox": {"task": "hub.hl7v2.sweep_inbox", "schedule": SWEEP_SECONDS},
        "sweep-outbox": {"task": "hub.outbound.sweep_outbox", "schedule": SWEEP_SECONDS},
    },
)


@celery_app.task(
    name="hub.hl7v2.process_facility",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=10,
)
def process_facility_task(facility_code: str) -> int:
    """Drain one facility's due messages, in order; returns how many were processed."""
    from adapters.hl7v2.processing import drain_facility

    return drain_facility(facility_code).processed


@celery_app.task(name="hub.hl7v2.sweep_inbox")
def sweep_inbox() -> int:
    """Publish work for every facility with due messages (lost notifications, retries)."""
    from adapters.hl7v2.processing import facilities_due

    with session_scope() as session:
        codes = facilities_due(session)
    for code in codes:
        process_facility_task.apply_async(args=[code], retry=False)
    return len(codes)


@worker_process_init.connect
def _own_database_connections(**_: object) -> None:
    """A forked pool process must not share the parent's database connections."""
    reset_engine()


@celery_app.task(
    name="hub.outbound.deliver_destination",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=10,
)
def deliver_destination_task(facility_code: str) -> int:
    """Deliver one facility's due outbox rows, in order; returns how many were delivered."""
    from adapters.outbound.delivery import drain_destination

    return drain_destination(facility_code).delivered


@celery_app.task(name="hub.outbound.sweep_outbox")
def sweep_outbox() -> int:
    """Publish delivery for every facility with due outbox rows (lost wake-ups, retries)."""
    from adapters.outbound.delivery import destinations_due

    with session_scope() as session:
        codes = destinations_due(session)
    for code in codes:
        deliver_destination_task.apply_async(args=[code], retry=False)
    return len(codes)
