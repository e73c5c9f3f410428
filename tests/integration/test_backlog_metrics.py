"""The outbox's backlog lines read what the database holds (rolled back: nothing is kept)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from adapters.outbound.backlog import outbox_metric_lines
from adapters.outbound.models import OutboxRow, OutboxStatus
from hub.db import new_session


def _row(key: str, status: OutboxStatus, age: timedelta) -> OutboxRow:
    return OutboxRow(
        created_at=datetime.now(UTC) - age, destination="ZZ-NONE", channel="hl7v2",
        event="ADT^A40", idempotency_key=key, payload=b"", status=status.value,
    )  # fmt: skip


def test_pending_dead_and_the_oldest_pending_age(database: str) -> None:
    session = new_session()
    try:
        before = _values(outbox_metric_lines(session))
        session.add_all([
            _row("metrics-1", OutboxStatus.PENDING, timedelta(hours=1)),
            _row("metrics-2", OutboxStatus.PENDING, timedelta(minutes=1)),
            _row("metrics-3", OutboxStatus.DEAD, timedelta(days=2)),
            _row("metrics-4", OutboxStatus.DELIVERED, timedelta(days=3)),
        ])  # fmt: skip
        session.flush()
        after = _values(outbox_metric_lines(session))
    finally:
        session.rollback()
        session.close()
    assert (
        after['hub_outbox_messages{status="pending"}']
        == before['hub_outbox_messages{status="pending"}'] + 2
    )
    assert (
        after['hub_outbox_messages{status="dead"}']
        == before['hub_outbox_messages{status="dead"}'] + 1
    )
    # the pending hour (or an older pending row of another test), never the dead row's days
    expected = max(3600.0, before["hub_outbox_delivery_lag_seconds"])
    assert expected <= after["hub_outbox_delivery_lag_seconds"] < expected + 100


def _values(lines: list[str]) -> dict[str, float]:
    samples = (line.rsplit(" ", 1) for line in lines if not line.startswith("#"))
    return {name: float(value) for name, value in samples}
