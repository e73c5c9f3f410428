"""The audit chainer's Celery tasks: link the chain; sweep for lost wake-ups.

Imported by :mod:`hub.wiring`, which also puts the sweeper on the beat schedule.
"""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from hub.audit.chain_queue import CHAIN_KEY, LINK_CHAIN, chain_due, link_now
from hub.db import session_scope
from hub.worker import celery_app


@celery_app.task(
    name=LINK_CHAIN,
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=30,
    max_retries=10,
)
def link_chain_task(key: str = CHAIN_KEY) -> int:
    """Link the audit chain; returns how many records were linked."""
    return link_now(key).linked


@celery_app.task(name="hub.audit.sweep_chain")
def sweep_chain() -> int:
    """Wake the chainer when records wait (lost wake-ups, gaps that have lapsed)."""
    with session_scope() as session:
        due = chain_due(session)
    if due:
        link_chain_task.apply_async(args=[CHAIN_KEY], retry=False)
    return len(due)
