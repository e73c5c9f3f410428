"""The message log: every HL7 v2 frame the hub received, kept before it is acknowledged.

One row per frame. An accepted message waits in ``received`` until a worker maps and stores it
(``processed``), retries it with backoff, or gives up (``dead``, with the reason). A refused one is
kept as ``rejected`` with the ACK it got, so operators can see what a facility sent. The raw
bytes are sealed with the field cipher (they hold personal data); the ACK and the error text
never do. Each processing attempt and each replay leaves an ``hl7_inbox_attempt`` row (written in
the transaction that changes the message's status), so ``hub messages trace`` can tell the story.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigId, UTCDateTime


class MessageStatus(StrEnum):
    RECEIVED = "received"  # committed and acknowledged; waiting for a worker
    PROCESSED = "processed"
    DEAD = "dead"  # gave up after retries or on a permanent error: replay after a fix
    REJECTED = "rejected"  # refused with AE/AR (or unframeable): never processed


class InboxRow(Base):
    __tablename__ = "hl7_inbox"
    __table_args__ = (
        # A repeated message (same facility + MSH-10) gets its original ACK, never a second row.
        UniqueConstraint("facility_code", "dedup_id", name="uq_hl7_inbox_dedup"),
        Index("ix_hl7_inbox_queue", "facility_code", "status", "id"),
        Index("ix_hl7_inbox_received", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    facility_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sending_facility: Mapped[str] = mapped_column(String(180), default="")  # MSH-4 as sent
    control_id: Mapped[str] = mapped_column(String(199), default="")  # MSH-10 as sent
    # MSH-10 of an accepted message (NULL when refused, so a corrected resend is not a duplicate).
    dedup_id: Mapped[str | None] = mapped_column(String(199), nullable=True)
    message_type: Mapped[str] = mapped_column(String(32), default="")  # e.g. ADT^A01
    version: Mapped[str] = mapped_column(String(16), default="")
    charset: Mapped[str] = mapped_column(String(32), default="")
    peer: Mapped[str] = mapped_column(String(128), default="")
    status: Mapped[str] = mapped_column(String(16))
    ack_code: Mapped[str] = mapped_column(String(2), default="")
    ack: Mapped[str] = mapped_column(Text, default="")  # the ACK as sent (no personal data)
    raw: Mapped[bytes] = mapped_column(LargeBinary)  # sealed bytes as received
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # why it failed (no values)
    resources: Mapped[str] = mapped_column(Text, default="")  # produced Type/id, space-separated


class AttemptOutcome(StrEnum):
    PROCESSED = "processed"
    RETRY = "retry"  # failed for a transient reason; tried again later
    DEAD = "dead"
    REPLAYED = "replayed"  # an operator put the dead letter back in the queue


class InboxAttemptRow(Base):
    """One processing attempt (or replay) of a message, with what it wrote."""

    __tablename__ = "hl7_inbox_attempt"
    __table_args__ = (Index("ix_hl7_inbox_attempt_message", "message_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("hl7_inbox.id", ondelete="CASCADE"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text, nullable=True)  # error type and text, no values
    # What the attempt wrote: "Type/id/_history/version created|updated", one per line.
    written: Mapped[str] = mapped_column(Text, default="")
