"""pharmacy: what each prescription has left, what each dispense counts, settled dispenses

``pharmacy_prescription_supply`` holds per circulated prescription what it allows and what
remains (CHECK ``0 <= remaining <= allowed``, taken by conditional updates);
``pharmacy_dispense_count`` what each dispense counts now; ``pharmacy_dispense_settlement``
links a dispense to the settlement that settled it, one unreleased link per dispense.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "pharmacy_prescription_supply",
        sa.Column("prescription_id", sa.String(length=64), nullable=False),
        sa.Column("allowed", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= allowed", name="ck_pharmacy_supply_remaining"
        ),
        sa.PrimaryKeyConstraint("prescription_id"),
    )
    op.create_table(
        "pharmacy_dispense_count",
        sa.Column("dispense_id", sa.String(length=64), nullable=False),
        sa.Column("prescription_id", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("quantity >= 0", name="ck_pharmacy_dispense_quantity"),
        sa.ForeignKeyConstraint(
            ["prescription_id"], ["pharmacy_prescription_supply.prescription_id"]
        ),
        sa.PrimaryKeyConstraint("dispense_id"),
    )
    op.create_table(
        "pharmacy_dispense_settlement",
        sa.Column("id", big, autoincrement=True, nullable=False),
        sa.Column("dispense_id", sa.String(length=64), nullable=False),
        sa.Column("settlement_id", big, nullable=False),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["settlement_id"], ["insurance_settlement.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_pharmacy_dispense_settled_once",
        "pharmacy_dispense_settlement",
        ["dispense_id"],
        unique=True,
        postgresql_where=sa.text("NOT released"),
        sqlite_where=sa.text("NOT released"),
    )


def downgrade() -> None:
    op.drop_index("uq_pharmacy_dispense_settled_once", table_name="pharmacy_dispense_settlement")
    op.drop_table("pharmacy_dispense_settlement")
    op.drop_table("pharmacy_dispense_count")
    op.drop_table("pharmacy_prescription_supply")
