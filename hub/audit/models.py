"""Append-only audit log, hash-chained: each row's hash covers its content and the previous hash.

Records are written in the request's transaction with a sequence number and no hash; the chainer
(:mod:`hub.audit.linking`) links them after commit, in sequence order. ``audit_head`` holds the
linked chain's tip in one row, locked only by the chainer (and by prune and checkpoint), never by
a request, so requests no longer queue behind one another's commits. It also holds
the chain's anchor: the last record removed by retention pruning (``hub audit prune``), from which
verification starts instead of the genesis hash.

The consent columns (``decision`` ... ``denied``) came with migration 0008; rows written before it
hold their defaults, which the hash leaves out, so those rows verify as they were written.

Migration 0009 made the hashes keyed (``hash_scheme``, see :mod:`hub.audit.chain`) and added the
signed checkpoints (``audit_checkpoint``, see :mod:`hub.audit.checkpoints`). Migration 0011
added ``practitioner``, the person a facility's token acts for; NULL on older rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigId, UTCDateTime

GENESIS_HASH = "0" * 64


class AuditRecord(Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_recorded", "recorded"),
        Index("ix_audit_client", "client_id"),
        Index("ix_audit_break_glass", "break_glass"),
        Index("ix_audit_purpose", "purpose_of_use"),
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
    # The consent decision the access rested on (None: none applied, e.g. exempt roles).
    decision: Mapped[str | None] = mapped_column(String(32), nullable=True)
    consents: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON "Consent/id" list
    break_glass: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    break_glass_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    denied: Mapped[str | None] = mapped_column(Text, nullable=True)  # JSON "Type/id" withheld
    # The person acting (token claim "practitioner", "Practitioner/<id>"; migration 0011).
    practitioner: Mapped[str | None] = mapped_column(String(80), nullable=True)
    # Set by the chainer after commit (hub.audit.linking); NULL while the record waits (0016).
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # hub.audit.chain.HashScheme: 0 unkeyed SHA-256 (before migration 0009), 1 HMAC-SHA256.
    hash_scheme: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")


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
    # Where verification starts: the last pruned record (0 and the genesis hash until a prune).
    anchor_seq: Mapped[int] = mapped_column(BigId, default=0, server_default="0")
    anchor_hash: Mapped[str] = mapped_column(
        String(64), default=GENESIS_HASH, server_default=GENESIS_HASH
    )


class AuditCheckpoint(Base):
    """A signed statement that the chain's hash at record ``seq`` was ``hash`` (Ed25519).

    No foreign key to ``audit_log``: the checkpoint at the chain's anchor outlives the pruned
    record it names, and deleting a record must not silently delete the checkpoint naming it.
    """

    __tablename__ = "audit_checkpoint"
    __table_args__ = (Index("ix_audit_checkpoint_seq", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigId)
    kind: Mapped[str] = mapped_column(String(16))  # hub.audit.checkpoints.CheckpointKind
    hash: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(16))  # which public key verifies it
    signature: Mapped[str] = mapped_column(String(128))  # base64url Ed25519 signature


class AuditReview(Base):
    """An operator's after-the-fact review of a break-glass access (one per record)."""

    __tablename__ = "audit_review"

    seq: Mapped[int] = mapped_column(
        BigId, ForeignKey("audit_log.seq", ondelete="CASCADE"), primary_key=True
    )
    reviewed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewer: Mapped[str] = mapped_column(String(128))  # client id of the operator
    reviewer_facility: Mapped[str] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text)
