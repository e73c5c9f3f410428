"""The outbox for ``/metrics``: rows by status and how late the oldest pending delivery is."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.outbound.models import OutboxRow, OutboxStatus
from hub.metric_lines import age_seconds, gauge_lines


def outbox_metric_lines(session: Session) -> list[str]:
    counts = dict(
        session.execute(
            select(OutboxRow.status, func.count())
            .where(OutboxRow.status != OutboxStatus.DELIVERED.value)  # grows forever; not a gauge
            .group_by(OutboxRow.status)
        ).all()
    )
    oldest = session.scalar(
        select(func.min(OutboxRow.created_at)).where(OutboxRow.status == OutboxStatus.PENDING.value)
    )
    waiting = (OutboxStatus.PENDING, OutboxStatus.DEAD)
    return [
        *gauge_lines(
            "hub_outbox_messages",
            "Outbound messages not delivered yet (pending) or given up on (dead), by status",
            {f'status="{status.value}"': counts.get(status.value, 0) for status in waiting},
        ),
        *gauge_lines(
            "hub_outbox_delivery_lag_seconds",
            "Age of the oldest outbound message still waiting for delivery",
            {"": age_seconds(oldest)},
        ),
    ]
