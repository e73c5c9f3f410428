"""Findings by rule: how many DetectedIssues each claims-audit rule raised since a day, counted
by the store (``_summary=count``) as the caller, so its scopes, consent and audit apply."""

from __future__ import annotations

from datetime import date

from hub.fhir.repository import FhirRepository
from insurance.claims_audit.codes import RULE_SYSTEM, RuleCode


def findings_by_rule(store: FhirRepository, since: date) -> dict[RuleCode, int]:
    """Every rule (the manual-review sample too) with its count of findings identified since."""
    counts: dict[RuleCode, int] = {}
    for rule in RuleCode:
        query = [
            ("code", f"{RULE_SYSTEM}|{rule.value}"),
            ("identified", f"ge{since.isoformat()}"),
            ("_summary", "count"),
        ]
        counts[rule] = int(store.search("DetectedIssue", query).total or 0)
    return counts
