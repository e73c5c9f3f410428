"""The referral SLA's Celery task: flag overdue referrals, expire stale ones.

Idempotent, with a stable name; :mod:`hub.wiring` puts it on the beat schedule. It takes no
arguments: "now" is the worker's clock, and each run finds only what is due.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hub.worker import celery_app
from referral.escalation import sweep

SLA_SWEEP_SECONDS = 60.0


@celery_app.task(name="hub.referral.sweep_sla", acks_late=True)
def sweep_sla() -> dict[str, int]:
    return sweep(datetime.now(UTC)).as_dict()
