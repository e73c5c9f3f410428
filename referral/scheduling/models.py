"""The booking ledger: the two tables that hold the guarantee, with database constraints.

Schedules, Slots and Appointments are FHIR resources in the store; these rows only carry what
an invariant needs a constraint for:

- ``booking_slot_capacity``: one row per bookable Slot. ``booked`` counts its active places
  (held or booked); a CHECK keeps it within ``0..capacity`` and the only writes are single
  conditional updates (``UPDATE ... WHERE booked < limit RETURNING``), so no check in Python
  ever precedes a write.
- ``booking_place``: one row per Appointment that takes (or took) a place. A partial unique
  index allows one active place per person per slot, and the idempotency key is unique over
  every row, so a retried request finds its first result instead of booking again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigId, UTCDateTime

ACTIVE_STATES = ("held", "booked")
_ACTIVE = text("state IN ('held', 'booked')")


class SlotCapacityRow(Base):
    __tablename__ = "booking_slot_capacity"
    __table_args__ = (
        CheckConstraint("booked >= 0 AND booked <= capacity", name="ck_booking_slot_booked"),
        CheckConstraint("reserved >= 0 AND reserved <= capacity", name="ck_booking_slot_reserved"),
        Index("ix_booking_slot_start", "start"),
    )

    slot_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # Slot.id
    schedule_id: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0)  # for referrals only
    booked: Mapped[int] = mapped_column(Integer, default=0)  # active places: held + booked


class PlaceRow(Base):
    __tablename__ = "booking_place"
    __table_args__ = (
        Index(
            "uq_booking_place_person_active",
            "slot_id",
            "person_key",
            unique=True,
            postgresql_where=_ACTIVE,
            sqlite_where=_ACTIVE,
        ),
        Index("ix_booking_place_hold", "state", "hold_expires"),
        UniqueConstraint("appointment_id", name="uq_booking_place_appointment"),
        UniqueConstraint("idempotency_key", name="uq_booking_place_idempotency_key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slot_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("booking_slot_capacity.slot_id", ondelete="CASCADE")
    )
    appointment_id: Mapped[str] = mapped_column(String(64))
    person_key: Mapped[str] = mapped_column(String(80))  # the patient index's person
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    state: Mapped[str] = mapped_column(String(16))  # held | booked | lapsed | released
    referral: Mapped[bool] = mapped_column(Boolean, default=False)
    hold_expires: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    released: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class PersonLockRow(Base):
    """One row per person who ever booked: the fair-use rules lock it (an upsert) before they
    count the person's places, so two bookings of one person are decided one after the other
    by the database, never both from the same count."""

    __tablename__ = "booking_person"

    person_key: Mapped[str] = mapped_column(String(80), primary_key=True)
    touched: Mapped[datetime] = mapped_column(UTCDateTime)


class NoShowRow(Base):
    """A booked place its person did not come to (爽约): one row per Appointment, recorded once."""

    __tablename__ = "booking_noshow"
    __table_args__ = (Index("ix_booking_noshow_person", "person_key", "slot_start"),)

    appointment_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_key: Mapped[str] = mapped_column(String(80))
    slot_start: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded: Mapped[datetime] = mapped_column(UTCDateTime)


WAITING = text("state = 'waiting'")


class WaitlistRow(Base):
    """A person waiting for a place in a full slot (its Appointment is ``waitlist``). One
    waiting entry per person and slot; first come, first offered."""

    __tablename__ = "booking_waitlist"
    __table_args__ = (
        Index(
            "uq_booking_waitlist_person_waiting",
            "slot_id",
            "person_key",
            unique=True,
            postgresql_where=WAITING,
            sqlite_where=WAITING,
        ),
        Index("ix_booking_waitlist_line", "slot_id", "state", "id"),
        UniqueConstraint("appointment_id", name="uq_booking_waitlist_appointment"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slot_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("booking_slot_capacity.slot_id", ondelete="CASCADE")
    )
    appointment_id: Mapped[str] = mapped_column(String(64))
    person_key: Mapped[str] = mapped_column(String(80))
    state: Mapped[str] = mapped_column(String(16))  # waiting | offered | skipped | left
    created: Mapped[datetime] = mapped_column(UTCDateTime)
    offered: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
