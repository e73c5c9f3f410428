"""ORM tables of the FHIR store: current resources, every version, and the search index.

Search values are extracted at write time into one table per value kind, in the same
transaction as the resource, so a search never sees a resource without its index rows.
Index rows point at the resource's surrogate key (``rid``) to keep them small.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigId, UTCDateTime


class ResourceRow(Base):
    __tablename__ = "fhir_resource"
    __table_args__ = (
        UniqueConstraint("resource_type", "resource_id", name="uq_fhir_resource_type_id"),
        Index("ix_fhir_resource_type_updated", "resource_type", "last_updated"),
        # A type's live rows by rid: a search joins its index lookups to these, and reads
        # them from this index alone instead of scanning every resource's row (migration 0021).
        Index("ix_fhir_resource_live", "resource_type", "rid",
              postgresql_where=text("NOT deleted"), sqlite_where=text("NOT deleted")),
    )  # fmt: skip

    rid: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[int] = mapped_column(Integer)
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    # JSON text with protected identifiers encrypted (see hub.security.fields); None when deleted.
    content: Mapped[str | None] = mapped_column(Text, nullable=True)


class ResourceVersionRow(Base):
    __tablename__ = "fhir_resource_version"
    __table_args__ = (Index("ix_fhir_version_type_updated", "resource_type", "last_updated"),)

    rid: Mapped[int] = mapped_column(
        BigId, ForeignKey("fhir_resource.rid", ondelete="CASCADE"), primary_key=True
    )
    version_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    resource_type: Mapped[str] = mapped_column(String(64))
    resource_id: Mapped[str] = mapped_column(String(64))
    last_updated: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(8))  # POST, PUT, DELETE
    content: Mapped[str | None] = mapped_column(Text, nullable=True)


class TokenIndex(Base):
    __tablename__ = "search_token"
    __table_args__ = (
        Index("ix_search_token_lookup", "resource_type", "param", "code", "system"),
        Index("ix_search_token_rid", "rid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rid: Mapped[int] = mapped_column(BigId, ForeignKey("fhir_resource.rid", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(64))
    param: Mapped[str] = mapped_column(String(64))
    system: Mapped[str | None] = mapped_column(String(255), nullable=True)
    code: Mapped[str] = mapped_column(String(255))


class StringIndex(Base):
    __tablename__ = "search_string"
    __table_args__ = (
        # Pattern operator class on PostgreSQL: prefix LIKE is an index range in any collation.
        Index(
            "ix_search_string_lookup",
            "resource_type",
            "param",
            "value_norm",
            postgresql_ops={"value_norm": "varchar_pattern_ops"},
        ),
        Index("ix_search_string_rid", "rid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rid: Mapped[int] = mapped_column(BigId, ForeignKey("fhir_resource.rid", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(64))
    param: Mapped[str] = mapped_column(String(64))
    value_norm: Mapped[str] = mapped_column(String(255))  # folded case and accents
    value_exact: Mapped[str] = mapped_column(String(255))


class DateIndex(Base):
    __tablename__ = "search_date"
    __table_args__ = (
        Index("ix_search_date_lookup", "resource_type", "param", "low", "high"),
        Index("ix_search_date_rid", "rid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rid: Mapped[int] = mapped_column(BigId, ForeignKey("fhir_resource.rid", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(64))
    param: Mapped[str] = mapped_column(String(64))
    low: Mapped[datetime] = mapped_column(UTCDateTime)  # inclusive
    high: Mapped[datetime] = mapped_column(UTCDateTime)  # exclusive


class ReferenceIndex(Base):
    __tablename__ = "search_reference"
    __table_args__ = (
        Index("ix_search_ref_lookup", "resource_type", "param", "target_id", "target_type"),
        Index("ix_search_ref_target", "target_type", "target_id"),
        Index("ix_search_ref_rid", "rid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rid: Mapped[int] = mapped_column(BigId, ForeignKey("fhir_resource.rid", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(64))
    param: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    target_id: Mapped[str] = mapped_column(String(255))  # id, or the URL when not local


class QuantityIndex(Base):
    __tablename__ = "search_quantity"
    __table_args__ = (
        Index("ix_search_quantity_lookup", "resource_type", "param", "value"),
        Index("ix_search_quantity_rid", "rid"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    rid: Mapped[int] = mapped_column(BigId, ForeignKey("fhir_resource.rid", ondelete="CASCADE"))
    resource_type: Mapped[str] = mapped_column(String(64))
    param: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    system: Mapped[str | None] = mapped_column(String(255), nullable=True)
    code: Mapped[str | None] = mapped_column(String(255), nullable=True)


INDEX_TABLES = (TokenIndex, StringIndex, DateIndex, ReferenceIndex, QuantityIndex)
