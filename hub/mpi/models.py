"""ORM tables of the master patient index.

A *source record* is one facility's registration of a patient (one FHIR Patient); a *person* is
the hub's golden record with an enterprise id. Every source links to exactly one person. Match
features are stored sealed (they hold resident IDs and phones); identifiers are cross-referenced
by blind index so PIXm lookups need no plaintext; blocking keys live in their own table so every
API replica sees the same candidates (one query per registration, scoring in-process).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigId, UTCDateTime


class PersonRow(Base):
    __tablename__ = "mpi_person"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    enterprise_id: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | merged
    merged_into: Mapped[int | None] = mapped_column(BigId, nullable=True)
    golden: Mapped[str] = mapped_column(Text)  # sealed FHIR Patient JSON (survivorship result)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    updated: Mapped[datetime] = mapped_column(UTCDateTime)


class SourceRow(Base):
    __tablename__ = "mpi_source"
    __table_args__ = (
        UniqueConstraint("facility", "source_id", name="uq_mpi_source_facility_id"),
        Index("ix_mpi_source_person", "person_id"),
        Index("ix_mpi_source_patient", "patient_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    facility: Mapped[str] = mapped_column(String(64))
    source_id: Mapped[str] = mapped_column(String(128))  # the facility's local patient number
    patient_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # FHIR Patient id
    person_id: Mapped[int] = mapped_column(BigId, ForeignKey("mpi_person.id"))
    state: Mapped[str] = mapped_column(String(16))  # auto | manual | review | new
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    features: Mapped[str] = mapped_column(Text)  # sealed MatchFeatures JSON
    content_hash: Mapped[str] = mapped_column(String(64))  # unchanged reload -> no-op
    flags: Mapped[str] = mapped_column(String(255), default="")
    updated: Mapped[datetime] = mapped_column(UTCDateTime)


class BlockKeyRow(Base):
    __tablename__ = "mpi_block_key"
    __table_args__ = (Index("ix_mpi_block_key", "key"),)

    source_row: Mapped[int] = mapped_column(
        BigId, ForeignKey("mpi_source.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)  # keyed hash of the key


class IdentifierRow(Base):
    """Cross-reference of strong identifiers: resident ID, insurance number, local numbers."""

    __tablename__ = "mpi_identifier"
    __table_args__ = (
        Index("ix_mpi_identifier_lookup", "system", "value_index"),
        Index("ix_mpi_identifier_person", "person_id"),
        Index("ix_mpi_identifier_source", "source_row"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_row: Mapped[int] = mapped_column(BigId, ForeignKey("mpi_source.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(BigId, ForeignKey("mpi_person.id"))
    system: Mapped[str] = mapped_column(String(255))
    value_index: Mapped[str] = mapped_column(String(64))  # blind index of the value
    value: Mapped[str] = mapped_column(String(512))  # sealed value
    valid: Mapped[bool] = mapped_column(Boolean, default=True)


class LinkEventRow(Base):
    """Link history: every change of which person a source belongs to, with its reason."""

    __tablename__ = "mpi_link_event"
    __table_args__ = (Index("ix_mpi_link_event_source", "source_row"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    action: Mapped[str] = mapped_column(String(16))  # link | new | review | unlink | merge | split
    source_row: Mapped[int | None] = mapped_column(BigId, nullable=True)
    from_person: Mapped[int | None] = mapped_column(BigId, nullable=True)
    to_person: Mapped[int | None] = mapped_column(BigId, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    actor: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(String(512), default="")
    undo_of: Mapped[int | None] = mapped_column(BigId, nullable=True)


class ReviewRow(Base):
    __tablename__ = "mpi_review"
    __table_args__ = (Index("ix_mpi_review_status", "status", "created"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source_row: Mapped[int] = mapped_column(BigId, ForeignKey("mpi_source.id", ondelete="CASCADE"))
    candidate_person: Mapped[int] = mapped_column(BigId, ForeignKey("mpi_person.id"))
    probability: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | claimed | resolved
    claimed_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    resolution: Mapped[str | None] = mapped_column(String(16), nullable=True)  # match | no-match
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ModelRow(Base):
    __tablename__ = "mpi_model"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    content: Mapped[str] = mapped_column(Text)  # MatchModel JSON
