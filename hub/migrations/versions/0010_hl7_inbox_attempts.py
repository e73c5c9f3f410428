"""hl7_inbox_attempt: each processing attempt and replay of an HL7 v2 message, for its trace

Messages processed before this revision have no attempt rows; their trace falls back to the
inbox row's status, error and resources.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "hl7_inbox_attempt",
        sa.Column("id", big, autoincrement=True, nullable=False),
        sa.Column("message_id", big, nullable=False),
        sa.Column("started_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("written", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["hl7_inbox.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_hl7_inbox_attempt_message", "hl7_inbox_attempt", ["message_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_hl7_inbox_attempt_message", table_name="hl7_inbox_attempt")
    op.drop_table("hl7_inbox_attempt")
