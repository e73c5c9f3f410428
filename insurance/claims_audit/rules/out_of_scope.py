"""out-of-scope (超范围): a not-covered item (class 丙, or not in the catalogue) the fund paid
for, or an item billed for a sex or an age it is not for. Pure."""

from __future__ import annotations

from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import ClaimsAuditParams, Sex
from insurance.claims_audit.rules._shared import claim_finding, yuan
from insurance.claims_audit.view import AuditData, Claim, Line, Person
from insurance.policy import ItemClass, PolicyVersion

CODE = RuleCode.OUT_OF_SCOPE


def find(data: AuditData, params: ClaimsAuditParams, policy: PolicyVersion) -> list[Finding]:
    found = []
    for claim in data.claims:
        person = data.person(claim.person)
        for line in claim.lines:
            reason = _not_covered(policy, line) or (
                _wrong_person(params, person, line) if person is not None else None
            )
            if reason is None:
                continue
            why, amount, severity = reason
            found.append(_finding(claim, line, why, amount, severity))
    return found


def _finding(claim: Claim, line: Line, why: str, amount: int, severity: Severity) -> Finding:
    return claim_finding(
        CODE,
        severity,
        claim,
        day=line.service_date,
        amount=amount,
        detail=f"Claim/{claim.id} item {line.sequence} ({line.code}): {why}; {yuan(amount)} yuan",
        basis=f"item {line.sequence} {line.code}",
        encounters=(line.encounter,) if line.encounter else (),
    )


def _not_covered(policy: PolicyVersion, line: Line) -> tuple[str, int, Severity] | None:
    if line.fund_fen <= 0:
        return None
    item = policy.item(line.code)
    if item is None:
        return "not in the catalogue, yet the fund paid for it", line.fund_fen, Severity.HIGH
    if item.item_class is ItemClass.C:
        return "a not-covered (丙) item the fund paid for", line.fund_fen, Severity.HIGH
    return None


def _wrong_person(
    params: ClaimsAuditParams, person: Person, line: Line
) -> tuple[str, int, Severity] | None:
    scope = params.out_of_scope
    for restriction in scope.sex_restricted:
        known = person.sex in (Sex.MALE, Sex.FEMALE)
        if restriction.code == line.code and known and person.sex != restriction.sex:
            why = f"an item for {restriction.sex} patients billed for a {person.sex} patient"
            return why, line.amount_fen, Severity.MODERATE
    age = person.age_on(line.service_date)
    for limit in scope.age_limits:
        outside = age is not None and not limit.min_years <= age <= limit.max_years
        if limit.code == line.code and outside:
            why = f"an item for ages {limit.min_years}-{limit.max_years} billed for age {age}"
            return why, line.amount_fen, Severity.MODERATE
    return None
