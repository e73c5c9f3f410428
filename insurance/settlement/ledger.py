"""The ledger's reads and writes: each decision is one conditional statement.

- An accumulator moves only by ``UPDATE ... WHERE`` the values the split was computed from
  (compare-and-set): a second cashier settling for the same person at once finds no row to
  change, and :mod:`insurance.settlement.service` computes again from the new values.
- A settlement is inserted under its unique Claim key: a concurrent retry fails on the
  constraint and then reads the first answer.
- A reversal flips ``settled -> reversed`` with one conditional update, so it happens once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from insurance.adjudication import Accumulators, Split
from insurance.settlement.models import AccumulatorRow, LedgerEntryRow, SettlementRow


@dataclass(frozen=True)
class AccountKey:
    patient_id: str
    year: int
    scheme: str


def accumulators(session: Session, key: AccountKey, opening_balance: int) -> Accumulators:
    """The person's year so far (a new row with the Coverage's opening balance if none)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(
        insert(AccumulatorRow)
        .values(
            patient_id=key.patient_id,
            year=key.year,
            scheme=key.scheme,
            deductible_used=0,
            fund_paid=0,
            account_balance=max(0, opening_balance),
        )
        .on_conflict_do_nothing()
    )
    row = session.execute(
        select(
            AccumulatorRow.deductible_used,
            AccumulatorRow.fund_paid,
            AccumulatorRow.account_balance,
        )
        .where(*_is(key))
        .execution_options(populate_existing=True)
    ).one()
    return Accumulators(int(row[0]), int(row[1]), int(row[2]))


def _is(key: AccountKey) -> tuple[ColumnElement[bool], ...]:
    return (
        AccumulatorRow.patient_id == key.patient_id,
        AccumulatorRow.year == key.year,
        AccumulatorRow.scheme == key.scheme,
    )


def compare_and_set(
    session: Session, key: AccountKey, before: Accumulators, after: Accumulators
) -> bool:
    """Move the accumulators from ``before`` to ``after``; False when they changed meanwhile."""
    result = session.execute(
        update(AccumulatorRow)
        .where(
            *_is(key),
            AccumulatorRow.deductible_used == before.deductible_used,
            AccumulatorRow.fund_paid == before.fund_paid,
            AccumulatorRow.account_balance == before.account_balance,
        )
        .values(
            deductible_used=after.deductible_used,
            fund_paid=after.fund_paid,
            account_balance=after.account_balance,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def compensate(session: Session, key: AccountKey, total: Split) -> None:
    """Take back exactly what a settlement added (relative, so it commutes with others)."""
    session.execute(
        update(AccumulatorRow)
        .where(*_is(key))
        .values(
            deductible_used=AccumulatorRow.deductible_used - total.deductible,
            fund_paid=AccumulatorRow.fund_paid - total.fund,
            account_balance=AccumulatorRow.account_balance + total.account,
        )
        .execution_options(synchronize_session=False)
    )


def settlement_for(session: Session, claim_key: str) -> SettlementRow | None:
    return session.scalars(
        select(SettlementRow).where(SettlementRow.claim_key == claim_key)
    ).one_or_none()


def settlement_of_claim(session: Session, claim_id: str) -> SettlementRow | None:
    return session.scalars(
        select(SettlementRow).where(SettlementRow.claim_id == claim_id)
    ).one_or_none()


def record_entry(
    session: Session, settlement_id: int, kind: str, total: Split, sign: int, now: datetime
) -> None:
    session.add(
        LedgerEntryRow(
            settlement_id=settlement_id,
            kind=kind,
            submitted=sign * total.submitted,
            deductible=sign * total.deductible,
            fund=sign * total.fund,
            account=sign * total.account,
            cash=sign * total.cash,
            created=now,
        )
    )
    session.flush()


def settled_total(session: Session, settlement_id: int) -> Split:
    row = session.scalars(
        select(LedgerEntryRow).where(
            LedgerEntryRow.settlement_id == settlement_id, LedgerEntryRow.kind == "settle"
        )
    ).one()
    return Split(
        submitted=row.submitted,
        deductible=row.deductible,
        benefit=row.fund,
        account=row.account,
        cash=row.cash,
    )


def mark_reversed(session: Session, settlement_id: int) -> bool:
    """``settled -> reversed`` once; False when it was reversed already."""
    result = session.execute(
        update(SettlementRow)
        .where(SettlementRow.id == settlement_id, SettlementRow.state == "settled")
        .values(state="reversed")
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
