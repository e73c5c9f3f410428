"""Listing rows: findings (``hub insurance audit``), discrepancies (``hub insurance
reconcile``). Amounts in yuan, from integer fen. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from insurance.claims_audit.detected_issue import finding_id
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.reconciliation import Discrepancy, LedgerLine, Totals
from insurance.claims_audit.rules._shared import yuan

FINDING_COLUMNS = (
    "finding", "rule", "severity", "facility", "patient", "day", "amount", "claims",
    "encounters", "dispenses", "detail",
)  # fmt: skip


def finding_rows(findings: Iterable[Finding]) -> list[dict[str, object]]:
    """Amounts in yuan (from integer fen); ``finding`` is the DetectedIssue id."""
    return [
        {
            "finding": finding_id(f.key),
            "rule": str(f.rule),
            "severity": str(f.severity),
            "facility": f.facility,
            "patient": f.person,
            "day": f.day,
            "amount": yuan(f.amount_fen),
            "claims": list(f.claims),
            "encounters": list(f.encounters),
            "dispenses": list(f.dispenses),
            "detail": f.detail,
        }
        for f in findings
    ]


DISCREPANCY_COLUMNS = (
    "setl_id", "difference", "facility_medfee", "hub_medfee", "facility_fund", "hub_fund",
    "facility_acct", "hub_acct", "facility_reversed", "hub_reversed",
)  # fmt: skip


def _side(line: LedgerLine | None, prefix: str) -> dict[str, object]:
    if line is None:
        return {f"{prefix}_{n}": None for n in ("medfee", "fund", "acct", "reversed")}
    return {
        f"{prefix}_medfee": yuan(line.submitted),
        f"{prefix}_fund": yuan(line.fund),
        f"{prefix}_acct": yuan(line.account),
        f"{prefix}_reversed": line.reversed,
    }


def discrepancy_rows(discrepancies: Iterable[Discrepancy]) -> list[dict[str, object]]:
    return [
        {
            "setl_id": d.setl_id,
            "difference": str(d.difference),
            **_side(d.facility, "facility"),
            **_side(d.hub, "hub"),
        }
        for d in discrepancies
    ]


def totals_line(t: Totals) -> str:
    return (
        f"{t.count} settlements, medfee_sumamt {yuan(t.submitted)}, fund_pay_sumamt "
        f"{yuan(t.fund)}, acct_pay {yuan(t.account)}"
    )
