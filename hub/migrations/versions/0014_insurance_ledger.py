"""insurance: accumulators, settlements and their ledger entries

``insurance_accumulator`` holds a person's year (CHECKed non-negative, moved by conditional
updates); ``insurance_settlement`` is unique per Claim identifier; ``insurance_ledger_entry``
records each settlement and its compensating reversal (unique per settlement and kind).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "insurance_accumulator",
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("deductible_used", sa.BigInteger(), nullable=False),
        sa.Column("fund_paid", sa.BigInteger(), nullable=False),
        sa.Column("account_balance", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "deductible_used >= 0 AND fund_paid >= 0 AND account_balance >= 0",
            name="ck_insurance_accumulator_non_negative",
        ),
        sa.PrimaryKeyConstraint("patient_id", "year", "scheme"),
    )
    op.create_table(
        "insurance_settlement",
        sa.Column("id", big, autoincrement=True, nullable=False),
        sa.Column("claim_key", sa.String(length=255), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.String(length=64), nullable=False),
        sa.Column("facility", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(length=16), nullable=False),
        sa.Column("claim_id", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("response", sa.Text(), nullable=False),
        sa.Column("created", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("claim_key", name="uq_insurance_settlement_claim_key"),
    )
    op.create_table(
        "insurance_ledger_entry",
        sa.Column("id", big, autoincrement=True, nullable=False),
        sa.Column("settlement_id", big, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("submitted", sa.BigInteger(), nullable=False),
        sa.Column("deductible", sa.BigInteger(), nullable=False),
        sa.Column("fund", sa.BigInteger(), nullable=False),
        sa.Column("account", sa.BigInteger(), nullable=False),
        sa.Column("cash", sa.BigInteger(), nullable=False),
        sa.Column("created", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["settlement_id"], ["insurance_settlement.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("settlement_id", "kind", name="uq_insurance_ledger_settlement_kind"),
    )


def downgrade() -> None:
    op.drop_table("insurance_ledger_entry")
    op.drop_table("insurance_settlement")
    op.drop_table("insurance_accumulator")
