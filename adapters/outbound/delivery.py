"""Delivering a destination's outbox rows: in order, one worker at a time, exactly once as far
as the hub can know.

Order: a facility's rows of one channel are sent strictly in ``id`` order (the order their
changes committed); the head row waiting for a retry holds back the rows behind it. The two
channels (HL7 v2 and FHIR rest-hook) reach different receiving systems and are ordered
independently, so a FHIR receiver that is down does not stall the facility's HL7 feed.

One worker per destination: a PostgreSQL session-level advisory lock, taken on its own
connection for the whole round (a process-local lock on SQLite, the single-process demo).
The network wait happens outside any transaction: each row is read in one short transaction
and its outcome recorded in the next, right after the ACK, so a slow or dead receiver never
holds database locks (on SQLite it would block every writer of the hub).

No duplicate delivery when the receiver ACKs: a row is marked ``delivered`` in the
transaction that follows its ACK and is never sent again. A crash between the send and that
commit leaves it ``pending``, and it is sent once more: receivers must de-duplicate on MSH-10
(HL7 v2 requires it), which is derived from the row's idempotency key and so is the same on
every attempt; rest-hook receivers get the same ``X-Hub-Notification-Id`` header.

Failures (see ``senders.py``): a refusal (AE/AR, CE/CR, HTTP 4xx) is dead-lettered at once
with the receiver's error; a transient failure is retried with exponential backoff
(``outbox_retry_base_seconds`` doubled per attempt) until ``outbox_max_attempts``, then
dead-lettered. A destination without an active endpoint counts as a transient failure, so
registering the endpoint in time lets the rows go out.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from adapters.outbound.endpoints import FacilityEndpoint, facility_endpoint, fhir_endpoint_for_url
from adapters.outbound.models import Channel, OutboxRow, OutboxStatus
from adapters.outbound.resources import load_resource
from adapters.outbound.senders import MllpSender, Outcome, OutcomeKind, RestHookSender
from adapters.outbound.v2_messages import control_id_for
from hub.db import get_engine, session_scope
from hub.security.fields import FieldCipher, get_cipher
from hub.settings import Settings, get_settings

log = logging.getLogger("hub.outbound.delivery")
ROUND_ROWS = 100  # rows per channel per round; the caller goes on while ``more``


class Sender(Protocol):
    def send(self, payload: bytes, control_id: str) -> Outcome: ...

    def close(self) -> None: ...


SenderFactory = Callable[[Channel, FacilityEndpoint, Settings], Sender]


def default_sender(channel: Channel, endpoint: FacilityEndpoint, settings: Settings) -> Sender:
    if channel is Channel.HL7V2:
        return MllpSender(endpoint, settings.outbound_timeout_seconds)
    return RestHookSender(settings.outbound_timeout_seconds)


@dataclass
class DeliveryReport:
    delivered: int = 0
    dead: int = 0
    retrying: int = 0
    more: bool = False  # a channel had rows left after a full round
    locked: bool = False  # another worker holds the destination


@dataclass(frozen=True)
class _Head:
    row_id: int
    control_id: str
    payload: bytes
    endpoint: FacilityEndpoint | None
    refusal: str = ""  # a reason to dead-letter without sending


_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


@contextmanager
def destination_lock(destination: str) -> Iterator[bool]:
    """Hold the destination for one delivery round; yields False when another worker has it."""
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        with _local_guard:
            lock = _local_locks.setdefault(destination, threading.Lock())
        acquired = lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()
        return
    key = (2 << 32) | zlib.crc32(f"outbox|{destination}".encode())
    with engine.connect() as connection:
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        acquired = bool(
            connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
        )
        try:
            yield acquired
        finally:
            if acquired:
                connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def _subscription_refusal(session: Session, cipher: FieldCipher, row: OutboxRow) -> str:
    subscription_id = row.event.removeprefix("Subscription/")
    subscription = load_resource(session, cipher, "Subscription", subscription_id)
    if subscription is None or subscription.get("status") != "active":
        return f"{row.event} is no longer active"
    return ""


def _next_head(
    destination: str, channel: Channel, cipher: FieldCipher, now: datetime
) -> _Head | None:
    """The channel's first pending row, if it is due (None: nothing to do now)."""
    with session_scope() as session:
        row = session.scalars(
            select(OutboxRow)
            .where(
                OutboxRow.destination == destination,
                OutboxRow.channel == channel.value,
                OutboxRow.status == OutboxStatus.PENDING.value,
            )
            .order_by(OutboxRow.id)
            .limit(1)
        ).first()
        if row is None or (row.next_attempt_at is not None and row.next_attempt_at > now):
            return None
        payload = cipher.open_bytes(row.payload)
        refusal = ""
        endpoint: FacilityEndpoint | None
        if channel is Channel.HL7V2:
            endpoint = facility_endpoint(session, cipher, destination, channel)
        else:
            refusal = _subscription_refusal(session, cipher, row)
            url = str(orjson.loads(payload).get("url") or "")
            endpoint = fhir_endpoint_for_url(session, cipher, url)
            if endpoint is not None and endpoint.facility != destination:
                endpoint = None
        return _Head(row.id, control_id_for(row.idempotency_key), payload, endpoint, refusal)


def _record(row_id: int, outcome: Outcome, settings: Settings, report: DeliveryReport) -> None:
    """Write one attempt's outcome (its own short transaction, right after the answer)."""
    now = datetime.now(UTC)
    with session_scope() as session:
        row = session.get(OutboxRow, row_id, with_for_update=True)
        if row is None or row.status != OutboxStatus.PENDING.value:
            return
        row.attempts += 1
        row.ack_code = outcome.ack_code[:8]
        if outcome.kind is OutcomeKind.DELIVERED:
            row.status, row.delivered_at = OutboxStatus.DELIVERED.value, now
            row.next_attempt_at, row.last_error = None, None
            report.delivered += 1
        elif outcome.kind is OutcomeKind.REFUSED or row.attempts >= settings.outbox_max_attempts:
            error = outcome.error
            if outcome.kind is OutcomeKind.TRANSIENT:
                error = f"{error} (after {row.attempts} attempts)"
            row.status, row.next_attempt_at, row.last_error = OutboxStatus.DEAD.value, None, error
            report.dead += 1
            log.warning("outbox row %s to %s dead-lettered: %s", row.id, row.destination,
                        outcome.ack_code or outcome.kind.value)  # fmt: skip
        else:
            delay = settings.outbox_retry_base_seconds * 2 ** (row.attempts - 1)
            row.next_attempt_at = now + timedelta(seconds=delay)
            row.last_error = outcome.error
            report.retrying += 1


def _deliver_channel(
    destination: str,
    channel: Channel,
    settings: Settings,
    cipher: FieldCipher,
    make_sender: SenderFactory,
    report: DeliveryReport,
) -> None:
    senders: dict[str, Sender] = {}  # by endpoint address: one connection per round
    try:
        for _ in range(ROUND_ROWS):
            head = _next_head(destination, channel, cipher, datetime.now(UTC))
            if head is None:
                return
            if head.refusal:
                outcome = Outcome(OutcomeKind.REFUSED, error=head.refusal)
            elif head.endpoint is None:
                outcome = Outcome(OutcomeKind.TRANSIENT, error=f"no active {channel} endpoint")
            else:
                sender = senders.get(head.endpoint.address)
                if sender is None:
                    sender = senders[head.endpoint.address] = make_sender(
                        channel, head.endpoint, settings
                    )
                outcome = sender.send(head.payload, head.control_id)
            _record(head.row_id, outcome, settings, report)
            if outcome.kind is OutcomeKind.TRANSIENT:
                return  # the head waits for its retry; the rows behind it wait with it
        report.more = True
    finally:
        for sender in senders.values():
            sender.close()


def deliver_destination(
    destination: str,
    *,
    settings: Settings | None = None,
    cipher: FieldCipher | None = None,
    make_sender: SenderFactory | None = None,
) -> DeliveryReport:
    """One delivery round for a facility: each channel's due rows, in order."""
    settings = settings or get_settings()
    cipher = cipher or get_cipher()
    report = DeliveryReport()
    with destination_lock(destination) as held:
        if not held:
            report.locked = True
            return report
        for channel in Channel:
            _deliver_channel(
                destination, channel, settings, cipher, make_sender or default_sender, report
            )
    return report


def drain_destination(destination: str, *, max_rounds: int = 100, **options: Any) -> DeliveryReport:
    """Delivery rounds until nothing is due (or another worker holds the destination)."""
    total = DeliveryReport()
    for _ in range(max_rounds):
        step = deliver_destination(destination, **options)
        total.delivered += step.delivered
        total.dead += step.dead
        total.retrying += step.retrying
        total.locked = step.locked
        if not step.more or step.locked:
            break
    return total


def destinations_due(session: Session, now: datetime | None = None) -> list[str]:
    """Facilities where the first pending row of a channel is due (for the sweeper): rows
    held back behind a head that waits for its retry do not count."""
    now = now or datetime.now(UTC)
    heads = (
        select(func.min(OutboxRow.id).label("head"))
        .where(OutboxRow.status == OutboxStatus.PENDING.value)
        .group_by(OutboxRow.destination, OutboxRow.channel)
        .subquery()
    )
    rows = session.execute(
        select(OutboxRow.destination)
        .join(heads, OutboxRow.id == heads.c.head)
        .where((OutboxRow.next_attempt_at.is_(None)) | (OutboxRow.next_attempt_at <= now))
        .distinct()
    ).scalars()
    return sorted(rows)
