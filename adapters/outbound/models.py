"""The outbox: every message the hub owes a facility, committed with the change that caused it.

A write hook (or the patient index, for a merge) inserts a row in the same transaction as the
change, so a change is never stored without its notifications, and a rolled-back change sends
nothing. Workers then deliver each destination's rows in order. ``idempotency_key`` is unique:
the same change (the same resource version, the same merge) never enqueues twice, whichever
path writes it again. The payload is sealed with the field cipher (it holds personal data); the
error text and the ACK code never do.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigId, UTCDateTime


class OutboxStatus(StrEnum):
    PENDING = "pending"  # waiting for (another) delivery attempt
    DELIVERED = "delivered"  # the receiver acknowledged it (AA/CA, HTTP 2xx)
    DEAD = "dead"  # refused by the receiver, or out of attempts: needs an operator


class Channel(StrEnum):
    HL7V2 = "hl7v2"  # HL7 v2 over MLLP (mllp:// or mllps://)
    FHIR_REST_HOOK = "fhir-rest-hook"  # an R4 Subscription's rest-hook notification


class OutboxRow(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
        Index("ix_outbox_queue", "destination", "channel", "status", "id"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    destination: Mapped[str] = mapped_column(String(64))  # facility code
    channel: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(128))  # SIU^S12, ADT^A40, Subscription/<id>
    # What caused it (Appointment/1/_history/2, merge/7): ids only, never values.
    source: Mapped[str] = mapped_column(String(255), default="")
    idempotency_key: Mapped[str] = mapped_column(String(400))
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # sealed
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)  # no personal data
    ack_code: Mapped[str] = mapped_column(String(8), default="")  # AA/AE/AR/CA.. or HTTP status
