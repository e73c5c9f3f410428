"""One message's story, end to end: received, acknowledged, stored, each processing attempt, the
resources it wrote and what the patient index decided for its patient.

Read from the inbox row, its attempt rows (``hl7_inbox_attempt``) and the patient index's link
events recorded while an attempt ran. A message processed before attempts were recorded falls
back to the inbox row's status, error and resources. Reading a trace is audited like reading the
message.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.hl7v2.messages import message_row
from adapters.hl7v2.models import AttemptOutcome, InboxAttemptRow, InboxRow, MessageStatus
from adapters.hl7v2.processing import WrittenResource
from hub.audit.service import AuditEntry, record_access
from hub.auth.actor import Actor
from hub.mpi.models import LinkEventRow, PersonRow, SourceRow

TRACE_COLUMNS = ("at", "step", "detail")


@dataclass(frozen=True)
class TraceStep:
    at: datetime | None
    step: str  # received | ack | stored | attempt | replayed | resource | patient-index | status
    detail: str

    def as_row(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class MessageTrace:
    message_id: int
    steps: list[TraceStep]


def trace_message(session: Session, actor: Actor, message_id: int) -> MessageTrace:
    row = message_row(session, actor, message_id)
    steps = _arrival(row)
    attempts = list(
        session.scalars(
            select(InboxAttemptRow)
            .where(InboxAttemptRow.message_id == row.id)
            .order_by(InboxAttemptRow.id)
        )
    )
    patients: list[str] = []
    for attempt in attempts:
        written = [WrittenResource.parse(line) for line in attempt.written.splitlines() if line]
        steps.append(_attempt_step(attempt))
        steps.extend(_resource_step(attempt.finished_at, w) for w in written)
        for resource in written:
            if resource.reference.startswith("Patient/"):
                patients.append(resource.reference)
                steps.extend(_index_steps(session, resource.reference, attempt))
    if not attempts:
        steps.extend(_unrecorded_attempts(row))
    steps.append(_status_step(row))
    record_access(
        session,
        AuditEntry(actor, "read", "HL7v2Message", [f"HL7v2Message/{row.id}"], sorted(patients)),
    )
    return MessageTrace(row.id, steps)


def _arrival(row: InboxRow) -> list[TraceStep]:
    facility = row.facility_code or "no registered facility"
    received = TraceStep(
        row.received_at,
        "received",
        f"{row.message_type or 'unknown type'} control id {row.control_id or '-'} "
        f"(HL7 {row.version or '?'}, {row.charset or 'default charset'}) from {facility} "
        f"(MSH-4 {row.sending_facility or '-'}) over connection {row.peer or '-'}",
    )
    ack = (
        TraceStep(row.received_at, "ack", f"{row.ack_code} sent")
        if row.ack
        else TraceStep(row.received_at, "ack", f"{row.ack_code} (none sent: not asked for)")
    )
    if row.status == MessageStatus.REJECTED.value:
        stored = TraceStep(
            row.received_at, "stored", f"message {row.id} kept as rejected: {row.error or '-'}"
        )
    else:
        stored = TraceStep(row.received_at, "stored", f"message {row.id} queued for processing")
    return [received, stored, ack]  # the ACK leaves only once the row is committed


def _attempt_step(attempt: InboxAttemptRow) -> TraceStep:
    if attempt.outcome == AttemptOutcome.REPLAYED.value:
        return TraceStep(attempt.finished_at, "replayed", attempt.error or "")
    detail = attempt.outcome
    if attempt.outcome == AttemptOutcome.RETRY.value:
        detail = "failed, to be retried"
    elif attempt.outcome == AttemptOutcome.DEAD.value:
        detail = "failed, dead-lettered"
    seconds = (attempt.finished_at - attempt.started_at).total_seconds()
    detail += f" in {seconds:.3f} s"
    if attempt.error:
        detail += f": {attempt.error}"
    return TraceStep(attempt.finished_at, "attempt", detail)


def _resource_step(at: datetime, written: WrittenResource) -> TraceStep:
    action = "created" if written.created else "updated"
    version = f" version {written.version}" if written.version else ""
    return TraceStep(at, "resource", f"{written.reference}{version} {action}")


def _index_steps(session: Session, patient: str, attempt: InboxAttemptRow) -> list[TraceStep]:
    """What the patient index decided for ``patient`` while the attempt ran."""
    patient_id = patient.split("/", 1)[1]
    source = session.scalar(select(SourceRow).where(SourceRow.patient_id == patient_id))
    if source is None:
        return [TraceStep(attempt.finished_at, "patient-index", f"{patient}: not indexed")]
    events = session.execute(
        select(LinkEventRow, PersonRow.enterprise_id)
        .outerjoin(PersonRow, PersonRow.id == LinkEventRow.to_person)
        .where(
            LinkEventRow.source_row == source.id,
            LinkEventRow.at >= attempt.started_at,
            LinkEventRow.at <= attempt.finished_at,
        )
        .order_by(LinkEventRow.id)
    ).all()
    if not events:
        person = session.get(PersonRow, source.person_id)
        linked = person.enterprise_id if person is not None else "?"
        detail = f"{patient}: unchanged, linked to person {linked} ({source.state})"
        return [TraceStep(attempt.finished_at, "patient-index", detail)]
    return [
        TraceStep(
            event.at,
            "patient-index",
            f"{patient}: {event.action} person {enterprise_id or '-'}"
            + (f", score {event.score:.4f}" if event.score is not None else "")
            + (f" ({event.reason})" if event.reason else ""),
        )
        for event, enterprise_id in events
    ]


def _unrecorded_attempts(row: InboxRow) -> list[TraceStep]:
    """A message processed before attempts were recorded: what its inbox row still says."""
    if row.status == MessageStatus.REJECTED.value or row.attempts == 0:
        return []
    at = row.processed_at
    steps = [TraceStep(at, "attempt", f"{row.attempts} attempt(s), not recorded one by one"
                       + (f"; last error: {row.error}" if row.error else ""))]  # fmt: skip
    steps.extend(TraceStep(at, "resource", reference) for reference in row.resources.split())
    return steps


def _status_step(row: InboxRow) -> TraceStep:
    at = row.processed_at if row.status == MessageStatus.PROCESSED.value else None
    detail = f"{row.status} after {row.attempts} attempt(s)"
    if row.status == MessageStatus.RECEIVED.value and row.next_attempt_at is not None:
        detail += f", next attempt at {row.next_attempt_at.isoformat(timespec='seconds')}"
    elif row.status == MessageStatus.DEAD.value:
        detail += " (replay with `hub messages replay`)"
    return TraceStep(at, "status", detail)
