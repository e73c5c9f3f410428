"""audit_consent: consent decisions on audit records, break-glass reviews, the pruning anchor

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

GENESIS_HASH = "0" * 64


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    # Old rows keep NULL / false here, which the hash leaves out: they verify unchanged.
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decision", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("consents", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("break_glass", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("break_glass_reason", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("denied", sa.Text(), nullable=True))
        batch_op.create_index("ix_audit_break_glass", ["break_glass"], unique=False)
        batch_op.create_index("ix_audit_purpose", ["purpose_of_use"], unique=False)
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anchor_seq", big, nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column(
                "anchor_hash", sa.String(length=64), nullable=False, server_default=GENESIS_HASH
            )
        )
    op.create_table(
        "audit_review",
        sa.Column("seq", big, nullable=False),
        sa.Column("reviewed_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("reviewer", sa.String(length=128), nullable=False),
        sa.Column("reviewer_facility", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["seq"], ["audit_log.seq"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seq"),
    )


def downgrade() -> None:
    op.drop_table("audit_review")
    with op.batch_alter_table("audit_head", schema=None) as batch_op:
        batch_op.drop_column("anchor_hash")
        batch_op.drop_column("anchor_seq")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_purpose")
        batch_op.drop_index("ix_audit_break_glass")
        batch_op.drop_column("denied")
        batch_op.drop_column("break_glass_reason")
        batch_op.drop_column("break_glass")
        batch_op.drop_column("consents")
        batch_op.drop_column("decision")
