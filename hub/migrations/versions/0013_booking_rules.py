"""booking rules: the person lock row of the fair-use rules, no-shows, the waitlist

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_WAITING = sa.text("state = 'waiting'")


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "booking_person",
        sa.Column("person_key", sa.String(length=80), nullable=False),
        sa.Column("touched", hub.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("person_key"),
    )
    op.create_table(
        "booking_noshow",
        sa.Column("appointment_id", sa.String(length=64), nullable=False),
        sa.Column("person_key", sa.String(length=80), nullable=False),
        sa.Column("slot_start", hub.db.UTCDateTime(), nullable=False),
        sa.Column("recorded", hub.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("appointment_id"),
    )
    op.create_index("ix_booking_noshow_person", "booking_noshow", ["person_key", "slot_start"])
    op.create_table(
        "booking_waitlist",
        sa.Column("id", big, autoincrement=True, nullable=False),
        sa.Column("slot_id", sa.String(length=64), nullable=False),
        sa.Column("appointment_id", sa.String(length=64), nullable=False),
        sa.Column("person_key", sa.String(length=80), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created", hub.db.UTCDateTime(), nullable=False),
        sa.Column("offered", hub.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["slot_id"], ["booking_slot_capacity.slot_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("appointment_id", name="uq_booking_waitlist_appointment"),
    )
    op.create_index(
        "uq_booking_waitlist_person_waiting",
        "booking_waitlist",
        ["slot_id", "person_key"],
        unique=True,
        postgresql_where=_WAITING,
        sqlite_where=_WAITING,
    )
    op.create_index("ix_booking_waitlist_line", "booking_waitlist", ["slot_id", "state", "id"])


def downgrade() -> None:
    op.drop_table("booking_waitlist")
    op.drop_index("ix_booking_noshow_person", table_name="booking_noshow")
    op.drop_table("booking_noshow")
    op.drop_table("booking_person")
