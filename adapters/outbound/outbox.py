"""Putting a message in the outbox, inside the caller's transaction, and waking delivery after
the commit.

``enqueue`` inserts with ``ON CONFLICT DO NOTHING`` on the idempotency key: writing the same
change twice (a replayed HL7 message, a retried transaction, a hook that runs again) leaves the
first row alone. The destinations that got rows are remembered on the session; once the
outermost transaction commits they are handed to the dispatcher, and a rollback forgets them
(its rows are gone too). A lost wake-up costs latency only: the sweeper finds due rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from adapters.outbound.models import Channel, OutboxRow, OutboxStatus
from adapters.outbound.outbox_queue import get_dispatcher
from hub.security.fields import FieldCipher

log = logging.getLogger("hub.outbound.outbox")
_PENDING = "outbound.destinations"
SESSION_CACHES = ("outbound.subscriptions",)  # per-transaction caches dropped at its end


@dataclass(frozen=True)
class OutboundMessage:
    destination: str  # facility code
    channel: Channel
    event: str
    source: str  # what caused it, as ids (Appointment/1/_history/2)
    idempotency_key: str
    payload: bytes  # plaintext; sealed here


def enqueue(session: Session, cipher: FieldCipher, message: OutboundMessage) -> bool:
    """Add one row (the caller commits); False when this key was already enqueued."""
    values: dict[str, Any] = {
        "created_at": datetime.now(UTC),
        "destination": message.destination,
        "channel": message.channel.value,
        "event": message.event,
        "source": message.source[:255],
        "idempotency_key": message.idempotency_key,
        "payload": cipher.seal_bytes(message.payload),
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "ack_code": "",
    }
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(OutboxRow)
        .values(values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(OutboxRow.id)
    )
    inserted = session.execute(statement).scalar_one_or_none() is not None
    if inserted:
        session.info.setdefault(_PENDING, set()).add(message.destination)
    return inserted


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT released: the real commit is yet to come
        return
    for key in SESSION_CACHES:
        session.info.pop(key, None)
    destinations: set[str] | None = session.info.pop(_PENDING, None)
    if not destinations:
        return
    try:
        get_dispatcher().notify(destinations)
    except Exception:  # the rows are committed; the sweeper will find them
        log.warning("could not wake outbound delivery; %d destinations wait", len(destinations))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    if session.in_nested_transaction():  # a SAVEPOINT rolled back; at worst a spare wake-up
        return
    for key in (_PENDING, *SESSION_CACHES):
        session.info.pop(key, None)
