"""hl7_inbox: the HL7 v2 message log (durable inbox, commit-ACK)

Revision ID: 0006
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "hl7_inbox",
        sa.Column("id", big, autoincrement=True, nullable=False),
        sa.Column("received_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("facility_code", sa.String(length=64), nullable=True),
        sa.Column("sending_facility", sa.String(length=180), nullable=False),
        sa.Column("control_id", sa.String(length=199), nullable=False),
        sa.Column("dedup_id", sa.String(length=199), nullable=True),
        sa.Column("message_type", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("charset", sa.String(length=32), nullable=False),
        sa.Column("peer", sa.String(length=128), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("ack_code", sa.String(length=2), nullable=False),
        sa.Column("ack", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("processed_at", hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("resources", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("facility_code", "dedup_id", name="uq_hl7_inbox_dedup"),
    )
    op.create_index("ix_hl7_inbox_queue", "hl7_inbox", ["facility_code", "status", "id"])
    op.create_index("ix_hl7_inbox_received", "hl7_inbox", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_hl7_inbox_received", table_name="hl7_inbox")
    op.drop_index("ix_hl7_inbox_queue", table_name="hl7_inbox")
    op.drop_table("hl7_inbox")
