"""From the inbox to the FHIR store: map, write through the store (and so the patient index).

A facility's messages are processed strictly in the order they were received (an A08 must not
overtake its A01), by one worker at a time: the worker holds a per-facility lock for the
transaction (a PostgreSQL advisory lock; SQLite has a single writer anyway). A batch first runs
in one savepoint; should any message fail, that savepoint is rolled back and the batch runs again
message by message, each in its own savepoint, so one bad message never takes its neighbours
down. A batch is committed together. Processing is idempotent: mapped resources are conditional
PUTs on the facility's identifiers and a row is only taken while it is ``received``, so a message
processed twice (a redelivered task, a replay) writes the same resources.

Failures: a mapping or store error says the message itself is wrong, so it is dead-lettered at
once with the reason; anything else (a database error, a bug) is retried with exponential
backoff, holding back the facility's later messages, until ``inbox_max_attempts``
dead-letters it. The reason kept names the error type, never the message's values.
"""

from __future__ import annotations

import logging
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from adapters.hl7v2 import metrics
from adapters.hl7v2.charset import decode_message
from adapters.hl7v2.errors import Hl7Error
from adapters.hl7v2.mappings import IndexOperation, MappingContext, map_message
from adapters.hl7v2.models import AttemptOutcome, InboxAttemptRow, InboxRow, MessageStatus
from adapters.hl7v2.parse import parse_message
from hub.audit.service import PENDING_AUDIT, AuditEntry
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.db import session_scope, writer_turn
from hub.errors import FhirError, InvalidRequest
from hub.fhir.bundle import BundleProcessor
from hub.fhir.store import FhirStore
from hub.mpi.errors import SourceNotFound
from hub.mpi.stewardship import find_source, unlink_source
from hub.security.fields import FieldCipher, get_cipher
from hub.settings import Settings, get_settings
from referral.scheduling.his_reports import report_status

log = logging.getLogger("hub.hl7v2.processing")
DRAIN_TURN_SECONDS = 2.0  # one facility's turn on a worker before the others get theirs
SQLITE_BATCH = 2  # one writer: each batch holds it; the listener's commits go between


@dataclass
class Progress:
    processed: int = 0
    dead: int = 0
    retrying: int = 0
    more: bool = False  # rows left for another round (batch full)
    locked: bool = False  # another worker holds the facility


def facility_actor(facility_code: str) -> Actor:
    return Actor.build(
        client_id=f"hl7v2:{facility_code}",
        facility=facility_code,
        role=Role.facility_system,
        scope="system/*.cruds",
        purpose_of_use="TREAT",  # a facility feeding its own patients' care
    )


def _lock_facility(session: Session, facility_code: str) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True
    # One bigint key space per purpose: a fixed high prefix keeps clear of the index's locks.
    key = (0x484C37 << 32) | zlib.crc32(f"hl7-inbox|{facility_code}".encode())
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())


def _no_search(resource_type: str, query: list[tuple[str, str]]) -> dict[str, Any]:
    raise InvalidRequest("mapped bundles carry no searches")


@dataclass(frozen=True)
class WrittenResource:
    """One resource a message wrote, as its attempt row keeps it."""

    reference: str  # Type/id
    version: str
    created: bool

    def line(self) -> str:
        return (
            f"{self.reference}/_history/{self.version} {'created' if self.created else 'updated'}"
        )

    @classmethod
    def parse(cls, line: str) -> WrittenResource:
        location, _, action = line.partition(" ")
        reference, _, version = location.partition("/_history/")
        return cls(reference, version, action == "created")

    @classmethod
    def of_entry(cls, response: dict[str, Any]) -> WrittenResource | None:
        """From a transaction-response entry's ``response`` (``Type/id/_history/v``)."""
        parts = str(response.get("location", "")).split("/")
        if len(parts) < 2:
            return None
        version = parts[3] if len(parts) >= 4 and parts[2] == "_history" else ""
        created = str(response.get("status", "")).startswith("201")
        return cls("/".join(parts[:2]), version, created)


def apply_message(
    session: Session, cipher: FieldCipher, row: InboxRow, settings: Settings
) -> list[WrittenResource]:
    """Map one stored message and write its resources; returns what was written."""
    text_, charset = decode_message(cipher.open_bytes(row.raw), settings.hl7_default_charset)
    message = parse_message(text_, charset)
    facility = row.facility_code or ""
    context = MappingContext(
        facility_code=facility, received_at=row.received_at, message_key=f"{facility}/{row.id}"
    )
    mapped = map_message(message, context)
    actor = facility_actor(facility)
    store = FhirStore(session, actor, cipher, settings.fhir_base_url)
    processor = BundleProcessor(
        store, _no_search, max_entries=settings.max_bundle_entries, representation=False
    )
    response = processor.process(mapped.bundle) if mapped.bundle["entry"] else {}
    written = []
    for entry in response.get("entry", []):
        resource = WrittenResource.of_entry(entry.get("response", {}))
        if resource is not None:
            written.append(resource)
    for operation in mapped.index_operations:
        _apply_index_operation(session, cipher, actor, facility, operation)
    for report in mapped.status_reports:  # the booking's rules decide (owner, status alone)
        stored = report_status(store, report.appointment_id, report.status)
        version = str((stored.get("meta") or {}).get("versionId") or "")
        written.append(WrittenResource(f"Appointment/{report.appointment_id}", version, False))
    return written


def _apply_index_operation(
    session: Session, cipher: FieldCipher, actor: Actor, facility: str, operation: IndexOperation
) -> None:
    if operation.kind != "unlink":
        raise InvalidRequest(f"unknown index operation {operation.kind!r}")
    try:
        surviving = find_source(session, facility, operation.surviving_source_id)
        other = find_source(session, facility, operation.other_source_id)
    except SourceNotFound:
        return  # one of them was never indexed: they are not linked, nothing to undo
    if surviving.person_id == other.person_id:
        unlink_source(session, cipher, actor, facility=facility,
                      source_id=operation.other_source_id,
                      reason="ADT^A37 unlink patient information from the facility")  # fmt: skip


def process_facility(
    facility_code: str, *, settings: Settings | None = None, cipher: FieldCipher | None = None
) -> Progress:
    """Process up to one batch of the facility's waiting messages, in order."""
    settings = settings or get_settings()
    cipher = cipher or get_cipher()
    progress = Progress()
    now = datetime.now(UTC)
    with writer_turn(), session_scope() as session:
        if not _lock_facility(session, facility_code):
            progress.locked = True
            return progress
        # SQLite has one writer: short batches let the listener's inbox commits in between.
        sqlite = session.get_bind().dialect.name == "sqlite"
        batch = (
            min(settings.inbox_batch_size, SQLITE_BATCH) if sqlite else settings.inbox_batch_size
        )
        rows = session.scalars(
            select(InboxRow)
            .where(
                InboxRow.facility_code == facility_code,
                InboxRow.status == MessageStatus.RECEIVED.value,
            )
            .order_by(InboxRow.id)
            .limit(batch)
            .with_for_update()
        ).all()
        progress.more = len(rows) == batch
        due = []
        for row in rows:
            if row.next_attempt_at is not None and row.next_attempt_at > now:
                progress.more = False  # held back behind a message waiting for its retry
                break
            due.append(row)
        if len(due) > 1 and _process_together(session, cipher, due, settings, progress):
            return progress
        for row in due:
            if not _process_row(session, cipher, row, settings, progress, now):
                progress.more = False
                break
    return progress


def _process_together(
    session: Session, cipher: FieldCipher, rows: list[InboxRow], settings: Settings,
    progress: Progress,
) -> bool:  # fmt: skip
    """The usual case, every message good: all of them in ONE savepoint, so the statements that
    record each message's outcome go to the database together at commit instead of around a
    savepoint per message. False, with nothing left behind, as soon as one message fails: the
    caller then takes the batch message by message, each in its own savepoint, which isolates
    the bad one (dead letter or retry) exactly as before."""
    pending: list[AuditEntry] = session.info.setdefault(PENDING_AUDIT, [])
    mark = len(pending)
    done: list[tuple[InboxRow, datetime, list[WrittenResource]]] = []
    savepoint = session.begin_nested()
    try:
        for row in rows:
            started = datetime.now(UTC)
            done.append((row, started, apply_message(session, cipher, row, settings)))
        savepoint.commit()
    except Exception:  # whatever it was, the one-by-one pass meets it again and files it
        savepoint.rollback()
        del pending[mark:]
        return False
    for row, started, written in done:
        _mark_processed(session, row, started, written, progress)
    return True


def _process_row(
    session: Session,
    cipher: FieldCipher,
    row: InboxRow,
    settings: Settings,
    progress: Progress,
    now: datetime,
) -> bool:
    """True to go on with the next row; False when this one must wait for a retry."""
    started = datetime.now(UTC)
    pending: list[AuditEntry] = session.info.setdefault(PENDING_AUDIT, [])
    mark = len(pending)  # audit entries of a rolled-back message must go with it
    savepoint = session.begin_nested()
    try:
        written = apply_message(session, cipher, row, settings)
        savepoint.commit()
    except (Hl7Error, FhirError) as exc:
        savepoint.rollback()
        del pending[mark:]
        _dead_letter(row, f"{type(exc).__name__}: {_reason(exc)}", now)
        _record_attempt(session, row, started, AttemptOutcome.DEAD)
        progress.dead += 1
        return True
    except Exception as exc:  # a database hiccup, or a bug: retried, then dead-lettered
        savepoint.rollback()
        del pending[mark:]
        row.attempts += 1
        cause = exc.orig if isinstance(exc, DBAPIError) else exc
        kind = "database error" if isinstance(exc, DBAPIError) else "unexpected error"
        reason = f"{kind}: {type(cause).__name__}"
        if not isinstance(exc, DBAPIError):
            log.exception("message %s failed unexpectedly (attempt %d)", row.id, row.attempts)
        if row.attempts >= settings.inbox_max_attempts:
            _dead_letter(row, f"{reason} (after {row.attempts} attempts)", now)
            _record_attempt(session, row, started, AttemptOutcome.DEAD)
            progress.dead += 1
            return True
        delay = settings.inbox_retry_base_seconds * 2 ** (row.attempts - 1)
        row.next_attempt_at = now + timedelta(seconds=delay)
        row.error = reason
        _record_attempt(session, row, started, AttemptOutcome.RETRY)
        progress.retrying += 1
        return False
    _mark_processed(session, row, started, written, progress)
    return True


def _mark_processed(
    session: Session,
    row: InboxRow,
    started: datetime,
    written: list[WrittenResource],
    progress: Progress,
) -> None:
    row.status = MessageStatus.PROCESSED.value
    row.processed_at = datetime.now(UTC)
    metrics.PROCESSED.labels(outcome="processed").inc()
    metrics.PROCESSING_LAG.observe((row.processed_at - row.received_at).total_seconds())
    row.attempts += 1
    row.error = None
    row.resources = " ".join(w.reference for w in written)[:20000]
    _record_attempt(session, row, started, AttemptOutcome.PROCESSED, written)
    progress.processed += 1


def _record_attempt(
    session: Session,
    row: InboxRow,
    started: datetime,
    outcome: AttemptOutcome,
    written: list[WrittenResource] | None = None,
) -> None:
    """The attempt's row, in the transaction that sets the message's new status."""
    session.add(
        InboxAttemptRow(
            message_id=row.id,
            started_at=started,
            finished_at=datetime.now(UTC),
            outcome=outcome.value,
            error=None if outcome is AttemptOutcome.PROCESSED else row.error,
            written="\n".join(w.line() for w in written or [])[:20000],
        )
    )


def _reason(exc: Exception) -> str:
    if isinstance(exc, Hl7Error):
        return f"{exc.code.value} {exc.location or ''} {exc.text}"[:1000]
    if isinstance(exc, FhirError):
        return f"{exc.status} {exc.code}: {exc.diagnostics}"[:1000]
    return str(exc)[:1000]


def _dead_letter(row: InboxRow, reason: str, now: datetime) -> None:
    row.status = MessageStatus.DEAD.value
    metrics.PROCESSED.labels(outcome="dead").inc()
    row.error = reason
    row.next_attempt_at = None
    row.attempts += 1
    log.warning("message %s dead-lettered: %s", row.id, reason.split(":")[0])


def facilities_due(session: Session, now: datetime | None = None) -> list[str]:
    """Facilities with messages waiting whose next attempt is due (for the sweeper)."""
    now = now or datetime.now(UTC)
    rows = session.execute(
        select(InboxRow.facility_code, func.min(InboxRow.id))
        .where(InboxRow.status == MessageStatus.RECEIVED.value)
        .where((InboxRow.next_attempt_at.is_(None)) | (InboxRow.next_attempt_at <= now))
        .group_by(InboxRow.facility_code)
    ).all()
    return sorted(code for code, _ in rows if code)


def drain_facility(facility_code: str, *, max_seconds: float = DRAIN_TURN_SECONDS) -> Progress:
    """Process batches until the facility has nothing due, another worker holds it, or its turn
    (``max_seconds``, at least one batch) is over. ``more`` then says work is left: the caller
    queues the facility again behind the others' work, so a facility that sends without pause
    cannot hold a worker while another's messages wait (seen under load: 6 minutes)."""
    total = Progress()
    turn_ends = time.monotonic() + max_seconds
    while True:
        step = process_facility(facility_code)
        total.processed += step.processed
        total.dead += step.dead
        total.retrying += step.retrying
        total.locked = step.locked
        total.more = step.more and not step.locked
        if not total.more or time.monotonic() >= turn_ends:
            return total
