"""claims audit: the settlements waiting for their incremental audit

``claims_audit_pending`` holds one row per settled Claim, written in the settlement's own
transaction (an outbox row): the audit task deletes it in the transaction that records the
findings, so a lost wake-up only delays the audit and two workers audit a claim once.

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "claims_audit_pending",
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("facility", sa.String(length=64), nullable=False),
        sa.Column("enqueued_at", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("claim_id"),
    )
    op.create_index("ix_claims_audit_pending_facility", "claims_audit_pending", ["facility"])


def downgrade() -> None:
    op.drop_index("ix_claims_audit_pending_facility", table_name="claims_audit_pending")
    op.drop_table("claims_audit_pending")
