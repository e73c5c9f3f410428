"""A facility's ledger totals over a period (what the national 3201 reconciles against), and
its settlements of one day (what the claims audit's reconciliation compares claim by claim)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from insurance.national.statement import LedgerTotals
from insurance.settlement.models import LedgerEntryRow, SettlementRow


def facility_totals(
    session: Session,
    *,
    facility: str,
    scheme: str,
    first_day: date,
    last_day: date,
    zone: ZoneInfo,
    with_refunds: bool,
) -> LedgerTotals:
    """Signed sums of the facility's ledger entries made on those local days (a reversal
    counts negative and, with refunds, as one more settlement, as the platform counts 2208)."""
    start = datetime.combine(first_day, time(), zone)
    end = datetime.combine(last_day + timedelta(days=1), time(), zone)
    conditions = [
        SettlementRow.facility == facility,
        SettlementRow.scheme == scheme,
        LedgerEntryRow.created >= start,
        LedgerEntryRow.created < end,
    ]
    if not with_refunds:
        conditions.append(LedgerEntryRow.kind == "settle")
    row = session.execute(
        select(
            func.count(LedgerEntryRow.id),
            func.coalesce(func.sum(LedgerEntryRow.submitted), 0),
            func.coalesce(func.sum(LedgerEntryRow.fund), 0),
            func.coalesce(func.sum(LedgerEntryRow.account), 0),
        )
        .join(SettlementRow, SettlementRow.id == LedgerEntryRow.settlement_id)
        .where(*conditions)
    ).one()
    return LedgerTotals(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


@dataclass(frozen=True)
class SettledClaim:
    claim_id: str  # setl_id in the national messages
    submitted: int  # fen, as settled (the settle entry)
    fund: int
    account: int
    reversed: bool  # reversed since, whenever


def settled_on(session: Session, *, facility: str, day: date, zone: ZoneInfo) -> list[SettledClaim]:
    """The facility's settlements made on that local day, each with whether it was reversed."""
    start = datetime.combine(day, time(), zone)
    end = start + timedelta(days=1)
    rows = session.execute(
        select(
            SettlementRow.claim_id,
            SettlementRow.state,
            LedgerEntryRow.submitted,
            LedgerEntryRow.fund,
            LedgerEntryRow.account,
        )
        .join(LedgerEntryRow, SettlementRow.id == LedgerEntryRow.settlement_id)
        .where(
            SettlementRow.facility == facility,
            LedgerEntryRow.kind == "settle",
            LedgerEntryRow.created >= start,
            LedgerEntryRow.created < end,
        )
        .order_by(SettlementRow.claim_id)
    ).all()
    return [
        SettledClaim(str(r[0]), int(r[2]), int(r[3]), int(r[4]), reversed=r[1] == "reversed")
        for r in rows
    ]


@dataclass(frozen=True)
class DayTotals:
    day: date
    entries: int  # settlements and reversals recorded that day
    submitted: int  # fen, signed: a reversal counts negative
    fund: int
    account: int
    cash: int


def daily_totals(
    session: Session, *, first_day: date, days: int, zone: ZoneInfo
) -> list[DayTotals]:
    """The whole region's ledger per local day (every facility, every scheme), signed sums in
    integer fen: the settlement totals the operators' chart draws."""
    start = datetime.combine(first_day, time(), zone)
    rows = session.execute(
        select(
            LedgerEntryRow.created,
            LedgerEntryRow.submitted,
            LedgerEntryRow.fund,
            LedgerEntryRow.account,
            LedgerEntryRow.cash,
        ).where(LedgerEntryRow.created >= start, LedgerEntryRow.created < start + timedelta(days))
    ).all()
    sums = {first_day + timedelta(days=n): [0, 0, 0, 0, 0] for n in range(days)}
    for created, *amounts in rows:
        day = sums[created.astimezone(zone).date()]
        day[0] += 1
        for at, amount in enumerate(amounts, start=1):
            day[at] += int(amount)
    return [DayTotals(day, *figures) for day, figures in sums.items()]
