"""Append-only audit log, hash-chained: each row's hash covers its content and the previous hash.

``audit_head`` holds the chain's tip in one row; writers lock it (SELECT ... FOR UPDATE) just
before commit, so the chain order is the commit order even with several API replicas.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigId, UTCDateTime

GENESIS_HASH = "0" * 64


class AuditRecord(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_recorded", "recorded"),
        Index("ix_audit_client", "client_id"),
    )

    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    recorded: Mapped[datetime] = mapped_column(UTCDateTime)
    client_id: Mapped[str] = mapped_column(String(128))
    facility: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    purpose_of_use: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(1))  # C R U D E (FHIR AuditEventAction)
    interaction: Mapped[str] = mapped_column(String(32))  # read, search-type, create, ...
    resource_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resources: Mapped[str] = mapped_column(Text)  # JSON list of "Type/id"
    patients: Mapped[str] = mapped_column(Text)  # JSON list of patient ids
    outcome: Mapped[str] = mapped_column(String(2))  # 0 success, 4 minor, 8 serious failure
    outcome_text: Mapped[str | None] = mapped_column(String(255), nullable=True)
    source_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    query_params: Mapped[str | None] = mapped_column(String(512), nullable=True)  # names only
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditPatient(Base):
    """Which patients an audit record concerns, for ``AuditEvent?patient=``."""

    __tablename__ = "audit_patient"
    __table_args__ = (Index("ix_audit_patient_pid", "patient_id", "seq"),)

    seq: Mapped[int] = mapped_column(
        BigId, ForeignKey("audit_log.seq", ondelete="CASCADE"), primary_key=True
    )
    patient_id: Mapped[str] = mapped_column(String(64), primary_key=True)


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigId)
    last_hash: Mapped[str] = mapped_column(String(64))
