"""Findings as listing rows (``hub insurance audit``): one row per finding. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from insurance.claims_audit.detected_issue import finding_id
from insurance.claims_audit.findings import Finding
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
