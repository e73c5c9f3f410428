"""The one table of the claims audit: settled claims waiting for their incremental audit.

A row is written in the settlement's transaction and deleted in the transaction that records
the claim's findings; the primary key makes a second enqueue of one claim a no-op.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime


class PendingAuditRow(Base):
    __tablename__ = "claims_audit_pending"
    __table_args__ = (Index("ix_claims_audit_pending_facility", "facility"),)

    claim_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    facility: Mapped[str] = mapped_column(String(64))  # the queue's key: one task per facility
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime)
