"""The settlement ledger: the rows whose invariants need database constraints.

- ``insurance_accumulator``: one row per person, year and scheme (deductible used, fund paid
  toward the cap, personal-account balance), CHECKed non-negative and changed only by
  conditional updates (compare-and-set on the values the split was computed from).
- ``insurance_settlement``: one row per settled Claim, its identifier unique, so a retry finds
  the first answer and a replay with other content is refused.
- ``insurance_ledger_entry``: what each settlement and each reversal moved; a reversal is a
  compensating entry (unique per settlement and kind), never a deleted row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from hub.db import Base, BigId, UTCDateTime


class AccumulatorRow(Base):
    __tablename__ = "insurance_accumulator"
    __table_args__ = (
        CheckConstraint(
            "deductible_used >= 0 AND fund_paid >= 0 AND account_balance >= 0",
            name="ck_insurance_accumulator_non_negative",
        ),
    )

    patient_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme: Mapped[str] = mapped_column(String(16), primary_key=True)
    deductible_used: Mapped[int] = mapped_column(BigInteger)
    fund_paid: Mapped[int] = mapped_column(BigInteger)
    account_balance: Mapped[int] = mapped_column(BigInteger)


class SettlementRow(Base):
    __tablename__ = "insurance_settlement"
    __table_args__ = (UniqueConstraint("claim_key", name="uq_insurance_settlement_claim_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    claim_key: Mapped[str] = mapped_column(String(255))  # Claim.identifier system|value
    content_hash: Mapped[str] = mapped_column(String(64))  # the request, to refuse a replay
    patient_id: Mapped[str] = mapped_column(String(64))
    facility: Mapped[str] = mapped_column(String(64))  # who settled: only it may reverse
    year: Mapped[int] = mapped_column(Integer)
    scheme: Mapped[str] = mapped_column(String(16))
    claim_id: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))  # settled | reversed
    response: Mapped[str] = mapped_column(Text)  # the first ClaimResponse, as sent
    created: Mapped[datetime] = mapped_column(UTCDateTime)


class LedgerEntryRow(Base):
    __tablename__ = "insurance_ledger_entry"
    __table_args__ = (
        UniqueConstraint("settlement_id", "kind", name="uq_insurance_ledger_settlement_kind"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    settlement_id: Mapped[int] = mapped_column(BigId, ForeignKey("insurance_settlement.id"))
    kind: Mapped[str] = mapped_column(String(16))  # settle | reverse
    submitted: Mapped[int] = mapped_column(BigInteger)
    deductible: Mapped[int] = mapped_column(BigInteger)  # signed: a reversal is negative
    fund: Mapped[int] = mapped_column(BigInteger)
    account: Mapped[int] = mapped_column(BigInteger)
    cash: Mapped[int] = mapped_column(BigInteger)
    created: Mapped[datetime] = mapped_column(UTCDateTime)
