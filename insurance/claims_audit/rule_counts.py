"""Findings by rule: how many DetectedIssues each claims-audit rule raised since a day, counted
by the store as the caller (one statement for every rule, each count the ``_summary=count`` of
its search: ``FhirStore.count_each``), so its scopes, consent and audit apply."""

from __future__ import annotations

from datetime import date

from hub.fhir.store import FhirStore
from insurance.claims_audit.codes import RULE_SYSTEM, RuleCode


def findings_by_rule(store: FhirStore, since: date) -> dict[RuleCode, int]:
    """Every rule (the manual-review sample too) with its count of findings identified since."""
    each = {rule: [("code", f"{RULE_SYSTEM}|{rule.value}")] for rule in RuleCode}
    return store.count_each("DetectedIssue", [("identified", f"ge{since.isoformat()}")], each)
