"""The pharmacy ledger: what needs a database constraint.

- ``pharmacy_prescription_supply``: per prescription, what it allows in all and what remains,
  CHECKed ``0 <= remaining <= allowed`` and taken only by a conditional update, so concurrent
  dispenses of the last units cannot together exceed the prescription.
- ``pharmacy_dispense_count``: what each dispense counts now, so a cancelled or corrected
  dispense gives back exactly what it took.
- ``pharmacy_dispense_settlement``: which settlement settled a dispense; one unreleased row per
  dispense (a partial unique index), so a dispense is settled once; a reversal releases it.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigId


class PrescriptionSupplyRow(Base):
    __tablename__ = "pharmacy_prescription_supply"
    __table_args__ = (
        CheckConstraint(
            "remaining >= 0 AND remaining <= allowed", name="ck_pharmacy_supply_remaining"
        ),
    )

    prescription_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    allowed: Mapped[int] = mapped_column(BigInteger)
    remaining: Mapped[int] = mapped_column(BigInteger)


class DispenseCountRow(Base):
    __tablename__ = "pharmacy_dispense_count"
    __table_args__ = (CheckConstraint("quantity >= 0", name="ck_pharmacy_dispense_quantity"),)

    dispense_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    prescription_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("pharmacy_prescription_supply.prescription_id")
    )
    quantity: Mapped[int] = mapped_column(BigInteger)


class DispenseSettlementRow(Base):
    __tablename__ = "pharmacy_dispense_settlement"
    __table_args__ = (
        Index(
            "uq_pharmacy_dispense_settled_once",
            "dispense_id",
            unique=True,
            postgresql_where=text("NOT released"),
            sqlite_where=text("NOT released"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    dispense_id: Mapped[str] = mapped_column(String(64))
    settlement_id: Mapped[int] = mapped_column(BigId, ForeignKey("insurance_settlement.id"))
    released: Mapped[bool] = mapped_column(Boolean, default=False)
