"""unbundling (分解收费): a package service billed as its parts on one encounter and day.

The amount at risk is what the parts were billed above the package's reference price. Pure."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.rules._shared import billed, yuan
from insurance.claims_audit.view import AuditData, Claim, Line
from insurance.policy import PolicyVersion

CODE = RuleCode.UNBUNDLING


def find(data: AuditData, params: ClaimsAuditParams, policy: PolicyVersion) -> list[Finding]:
    packages = params.unbundling.packages
    if not packages:
        return []
    visits: dict[tuple[str, date], list[tuple[Claim, Line]]] = defaultdict(list)
    for claim in data.claims:
        for line in claim.lines:
            visits[(line.scope(claim.id), line.service_date)].append((claim, line))
    found = []
    for (scope, day), lines in visits.items():
        codes = {line.code for _, line in lines}
        for package in packages:
            parts = [pair for pair in lines if pair[1].code in package.parts]
            if package.code in codes or len({ln.code for _, ln in parts}) < package.min_parts:
                continue
            item = policy.item(package.code)
            price = item.unit_price_fen if item is not None else 0
            total = billed(parts)
            above = max(0, total - price)
            claim = parts[0][0]
            found.append(
                Finding(
                    rule=CODE,
                    severity=Severity.MODERATE,
                    facility=claim.facility,
                    person=claim.person,
                    day=day,
                    amount_fen=above,
                    detail=f"{scope} on {day.isoformat()} billed the parts of package "
                    f"{package.code} ({', '.join(sorted({ln.code for _, ln in parts}))}) for "
                    f"{yuan(total)} yuan instead of the package at {yuan(price)} yuan",
                    basis=f"package {package.code} {day.isoformat()} {scope}",
                    claims=tuple(c.id for c, _ in parts),
                    encounters=tuple(ln.encounter for _, ln in parts if ln.encounter),
                )
            )
    return found
