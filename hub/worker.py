"""The Celery application: ``hub worker`` runs it; the listener and the API publish to it.

Tasks take ids, are idempotent and late-acknowledged (a worker killed mid-task leaves the task to
be redelivered); there is no result backend because nobody reads results. Each package keeps its
tasks in its own ``tasks.py``; :mod:`hub.wiring` imports them and puts their sweepers, which
re-publish work whose notification was lost, on the beat schedule.
"""

from __future__ import annotations

from celery import Celery
from celery.signals import worker_process_init

from hub.db import reset_engine
from hub.settings import get_settings

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
)


@worker_process_init.connect
def _own_database_connections(**_: object) -> None:
    """A forked pool process must not share the parent's database connections."""
    reset_engine()
