"""A facility's ledger totals over a period (what the national 3201 reconciles against)."""

from __future__ import annotations

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
