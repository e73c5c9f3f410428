"""Run the rules over a view of settled claims. Pure.

The parameters are those of the policy version in effect on the audited day; a version without
a ``claims_audit`` section runs no audit (:class:`AuditNotConfigured`).
"""

from __future__ import annotations

from collections.abc import Iterable

from insurance.claims_audit.codes import RuleCode
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.rules import RULES
from insurance.claims_audit.view import AuditData
from insurance.policy import PolicyVersion


class AuditNotConfigured(LookupError):
    """The policy version in effect has no ``claims_audit`` section."""


def run_rules(
    data: AuditData, policy: PolicyVersion, only: Iterable[RuleCode] | None = None
) -> list[Finding]:
    """Every finding of the chosen rules (all by default), once per key, in a stable order."""
    params = policy.claims_audit
    if params is None:
        raise AuditNotConfigured(f"policy {policy.version} has no claims_audit section")
    chosen = set(only) if only is not None else set(RuleCode)
    unique: dict[str, Finding] = {}
    for rule in RULES:
        if rule.code in chosen:
            for finding in rule.find(data, params, policy):
                unique.setdefault(finding.key, finding)
    return sorted(unique.values(), key=lambda f: (f.rule, f.facility, f.day, f.key))


def implicating(findings: Iterable[Finding], claim_id: str) -> list[Finding]:
    """The findings that name one claim (an incremental run keeps only these)."""
    return [f for f in findings if claim_id in f.claims]
