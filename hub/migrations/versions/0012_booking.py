"""booking: slot capacity and booked places, the constraints behind appointment booking

``booking_slot_capacity`` keeps each bookable Slot's counter under a CHECK; ``booking_place``
holds one row per place taken, unique per person and slot while active and per idempotency key.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import hub.db

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_ACTIVE = sa.text("state IN ('held', 'booked')")


def upgrade() -> None:
    big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "booking_slot_capacity",
        sa.Column("slot_id", sa.String(length=64), nullable=False),
        sa.Column("schedule_id", sa.String(length=64), nullable=False),
        sa.Column("start", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_booking_slot_booked"),
        sa.CheckConstraint(
            "reserved >= 0 AND reserved <= capacity", name="ck_booking_slot_reserved"
        ),
        sa.PrimaryKeyConstraint("slot_id"),
    )
    op.create_index("ix_booking_slot_start", "booking_slot_capacity", ["start"])
    op.create_table(
        "booking_place",
        sa.Column("id", big, autoincrement=True, nullable=False),
        sa.Column("slot_id", sa.String(length=64), nullable=False),
        sa.Column("appointment_id", sa.String(length=64), nullable=False),
        sa.Column("person_key", sa.String(length=80), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("referral", sa.Boolean(), nullable=False),
        sa.Column("hold_expires", hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created", hub.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released", hub.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["slot_id"], ["booking_slot_capacity.slot_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("appointment_id", name="uq_booking_place_appointment"),
        sa.UniqueConstraint("idempotency_key", name="uq_booking_place_idempotency_key"),
    )
    op.create_index(
        "uq_booking_place_person_active",
        "booking_place",
        ["slot_id", "person_key"],
        unique=True,
        postgresql_where=_ACTIVE,
        sqlite_where=_ACTIVE,
    )
    op.create_index("ix_booking_place_hold", "booking_place", ["state", "hold_expires"])


def downgrade() -> None:
    op.drop_index("ix_booking_place_hold", table_name="booking_place")
    op.drop_index("uq_booking_place_person_active", table_name="booking_place")
    op.drop_table("booking_place")
    op.drop_index("ix_booking_slot_start", table_name="booking_slot_capacity")
    op.drop_table("booking_slot_capacity")
