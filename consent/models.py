"""ORM table of the consent package: the per-patient consent summary searches join.

``consent_summary`` holds, for every **active** Consent, one row per recipient its provisions
can reach (``actor``; ``*`` when some provision names no actor): the Patient record it is
written against, the span of its provisions' periods (compared with the moment of each search,
so a Consent that starts or expires needs no write) and its flattened rules without their ids
(``rules``, the same text for Consents of the same shape). It is kept by a write hook in the
Consent's own transaction (``consent.summary``), so it never lags a Consent write.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, UTCDateTime


class ConsentSummaryRow(Base):
    __tablename__ = "consent_summary"
    __table_args__ = (
        Index("ix_consent_summary_actor", "actor", "patient_id"),
        Index("ix_consent_summary_patient", "patient_id"),
    )

    consent_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    actor: Mapped[str] = mapped_column(String(160), primary_key=True)  # "*": any recipient
    patient_id: Mapped[str] = mapped_column(String(64))  # the record the Consent names
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)  # exclusive
    rules: Mapped[str] = mapped_column(Text)  # consent.summary.shape_of(rules)
