"""Reconcile a facility's day: its detail file against the hub's settlement ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from insurance.claims_audit.reconciliation import (
    Discrepancy,
    LedgerLine,
    Totals,
    reconcile,
    totals,
)
from insurance.national.envelope import REGION_TZ
from insurance.settlement.totals import settled_on


@dataclass(frozen=True)
class DayReconciliation:
    facility: Totals
    hub: Totals
    discrepancies: list[Discrepancy]

    @property
    def balanced(self) -> bool:
        return not self.discrepancies and self.facility == self.hub


def hub_lines(session: Session, facility: str, day: date) -> dict[str, LedgerLine]:
    return {
        s.claim_id: LedgerLine(s.claim_id, s.submitted, s.fund, s.account, s.reversed)
        for s in settled_on(session, facility=facility, day=day, zone=REGION_TZ)
    }


def reconcile_day(
    session: Session, facility: str, day: date, details: dict[str, LedgerLine]
) -> DayReconciliation:
    ours = hub_lines(session, facility, day)
    return DayReconciliation(
        totals(details.values()), totals(ours.values()), reconcile(details, ours)
    )
