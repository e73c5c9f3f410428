"""The message log for people: search it, show one message with its ACK and resources, replay.

Shared by the API (``views.py``) and the CLI (``hub messages``). Operators see every facility;
a facility's own system sees only the messages its facility sent; auditors may list but not read
raw content. Reading a raw message and replaying one are audited like any other access.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from adapters.hl7v2.models import AttemptOutcome, InboxAttemptRow, InboxRow, MessageStatus
from hub.audit.service import AuditEntry, record_access
from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import Forbidden, InvalidRequest, NotFound
from hub.metric_lines import age_seconds, gauge_lines
from hub.security.fields import FieldCipher

MAX_PAGE = 500


class MessageSummary(BaseModel):
    id: int
    received_at: datetime
    facility: str | None
    sending_facility: str
    control_id: str
    message_type: str
    version: str
    status: str
    ack_code: str
    attempts: int
    error: str | None
    processed_at: datetime | None


class MessagePage(BaseModel):
    total: int
    messages: list[MessageSummary]


class MessageDetail(MessageSummary):
    charset: str
    peer: str
    ack: str
    raw: str | None  # None for readers who may not see content
    resources: list[str]


def _summary(row: InboxRow) -> dict[str, object]:
    return {
        "id": row.id,
        "received_at": row.received_at,
        "facility": row.facility_code,
        "sending_facility": row.sending_facility,
        "control_id": row.control_id,
        "message_type": row.message_type,
        "version": row.version,
        "status": row.status,
        "ack_code": row.ack_code,
        "attempts": row.attempts,
        "error": row.error,
        "processed_at": row.processed_at,
    }


def _facility_scope(actor: Actor) -> str | None:
    """None: every facility; else the only facility this actor may see."""
    if actor.role in (Role.operator, Role.auditor):
        return None
    if actor.role is Role.facility_system:
        return actor.facility
    raise Forbidden("the message log is for operators, auditors and facility systems")


def search_messages(
    session: Session,
    actor: Actor,
    *,
    facility: str | None = None,
    message_type: str | None = None,
    status: MessageStatus | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    control_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> MessagePage:
    scope = _facility_scope(actor)
    if scope is not None and facility not in (None, scope):
        raise Forbidden("a facility system may only read its own facility's messages")
    facility = scope or facility
    query = select(InboxRow)
    if facility:
        query = query.where(InboxRow.facility_code == facility)
    if message_type:
        query = query.where(  # "ADT" matches every ADT event, "ADT^A01" one
            (InboxRow.message_type == message_type)
            | InboxRow.message_type.startswith(message_type + "^")
        )
    if status is not None:
        query = query.where(InboxRow.status == status.value)
    if since is not None:
        query = query.where(InboxRow.received_at >= since)
    if until is not None:
        query = query.where(InboxRow.received_at < until)
    if control_id:
        query = query.where(InboxRow.control_id == control_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(InboxRow.id.desc()).limit(min(limit, MAX_PAGE)).offset(offset)
    ).all()
    record_access(session, AuditEntry(actor, "search-type", "HL7v2Message", [], []))
    return MessagePage(
        total=total, messages=[MessageSummary.model_validate(_summary(r)) for r in rows]
    )


def message_row(
    session: Session, actor: Actor, message_id: int, *, for_update: bool = False
) -> InboxRow:
    """The message, if it exists and this actor may see it (else NotFound)."""
    query = select(InboxRow).where(InboxRow.id == message_id)
    row = session.scalar(query.with_for_update() if for_update else query)
    scope = _facility_scope(actor)
    if row is None or (scope is not None and row.facility_code != scope):
        raise NotFound(f"no message {message_id}")
    return row


def show_message(
    session: Session, cipher: FieldCipher, actor: Actor, message_id: int
) -> MessageDetail:
    row = message_row(session, actor, message_id)
    raw: str | None = None
    if actor.role is not Role.auditor:
        data = cipher.open_bytes(row.raw)
        raw = _readable(data, row.charset)
    record_access(
        session, AuditEntry(actor, "read", "HL7v2Message", [f"HL7v2Message/{row.id}"], [])
    )
    return MessageDetail.model_validate(
        {
            **_summary(row),
            "charset": row.charset,
            "peer": row.peer,
            "ack": row.ack.replace("\r", "\n"),
            "raw": raw,
            "resources": row.resources.split(),
        }
    )


def _readable(data: bytes, charset: str) -> str:
    """The raw bytes as text for a person: the declared charset, else UTF-8 with escapes."""
    from adapters.hl7v2.charset import codec_for
    from adapters.hl7v2.errors import Hl7Error

    try:
        codec = codec_for(charset) if charset else "utf-8"
    except Hl7Error:
        codec = "utf-8"
    return data.decode(codec, errors="backslashreplace").replace("\r", "\n")


def replay_messages(
    session: Session, actor: Actor, message_ids: list[int], *, reason: str
) -> tuple[list[int], set[str]]:
    """Put dead letters back in the queue; returns the ids replayed and their facilities."""
    if actor.role is not Role.operator:
        raise Forbidden("only operators may replay messages")
    if not reason.strip():
        raise InvalidRequest("a replay needs a reason")
    replayed, facilities = [], set()
    for message_id in message_ids:
        row = message_row(session, actor, message_id, for_update=True)
        if row.status != MessageStatus.DEAD.value:
            raise InvalidRequest(f"message {row.id} is {row.status}; only dead letters replay")
        now = datetime.now(UTC)
        row.status = MessageStatus.RECEIVED.value
        row.attempts = 0
        row.next_attempt_at = None
        row.error = f"replayed {now:%Y-%m-%d %H:%M} by {actor.client_id}: {reason}"[:1000]
        session.add(
            InboxAttemptRow(message_id=row.id, started_at=now, finished_at=now,
                            outcome=AttemptOutcome.REPLAYED.value, error=row.error)
        )  # fmt: skip
        replayed.append(row.id)
        if row.facility_code:
            facilities.add(row.facility_code)
    record_access(
        session,
        AuditEntry(actor, "operation", "HL7v2Message", [f"HL7v2Message/{i}" for i in replayed], []),
    )
    return replayed, facilities


def dead_letter_ids(session: Session, facility: str | None = None) -> list[int]:
    query = select(InboxRow.id).where(InboxRow.status == MessageStatus.DEAD.value)
    if facility:
        query = query.where(InboxRow.facility_code == facility)
    return list(session.scalars(query.order_by(InboxRow.id)).all())


def status_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(InboxRow.status, func.count()).group_by(InboxRow.status)).all()
    return {status: count for status, count in rows}


def backlog_metric_lines(session: Session) -> list[str]:
    """The message log's backlog in Prometheus text, for the API's ``/metrics`` (cluster-wide):
    messages by status (``dead`` are the dead letters) and the oldest waiting message's age."""
    counts = status_counts(session)
    oldest = session.scalar(
        select(func.min(InboxRow.received_at)).where(
            InboxRow.status == MessageStatus.RECEIVED.value
        )
    )
    return [
        *gauge_lines(
            "hub_hl7_inbox_messages",
            "Messages in the HL7 v2 message log, by status",
            {f'status="{status.value}"': counts.get(status, 0) for status in MessageStatus},
        ),
        *gauge_lines(
            "hub_hl7_inbox_oldest_waiting_seconds",
            "Age of the oldest HL7 v2 message acknowledged but not processed yet",
            {"": age_seconds(oldest)},
        ),
    ]
