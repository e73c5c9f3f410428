"""excess-quantity (超量开药): a dispense's days' supply over the limit (acute or chronic drug),
or the same drug dispensed to one person at two facilities for overlapping days. Pure."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.rules._shared import yuan
from insurance.claims_audit.view import AuditData, Claim, Dispense
from insurance.policy import PolicyVersion

CODE = RuleCode.EXCESS_QUANTITY


def find(data: AuditData, params: ClaimsAuditParams, policy: PolicyVersion) -> list[Finding]:
    return _over_limit(data, params) + _overlapping(data, params)


def _billed_for(data: AuditData, dispense: Dispense) -> tuple[list[Claim], int]:
    """The claims billing this dispense's drug for its encounter, and what they billed for it."""
    if dispense.encounter is None:
        return [], 0
    claims = [c for c in data.claims_of([dispense.encounter])]
    amount = sum(
        ln.amount_fen
        for c in claims
        for ln in c.lines
        if ln.code == dispense.code and ln.encounter == dispense.encounter
    )
    return claims, amount


def _over_limit(data: AuditData, params: ClaimsAuditParams) -> list[Finding]:
    limits = params.excess_quantity
    chronic = set(limits.chronic_drug_codes)
    found = []
    for dispense in data.dispenses:
        days = dispense.days_supply
        limit = limits.chronic_max_days if dispense.code in chronic else limits.acute_max_days
        if days is None or days <= limit:
            continue
        claims, amount = _billed_for(data, dispense)
        excess = amount * (days - limit) // days
        found.append(
            Finding(
                rule=CODE,
                severity=Severity.MODERATE,
                facility=dispense.facility,
                person=dispense.person,
                day=dispense.handed_over,
                amount_fen=excess,
                detail=f"MedicationDispense/{dispense.id}: {days} days of {dispense.code}, over "
                f"the {'chronic' if dispense.code in chronic else 'acute'} limit of {limit} "
                f"days; the excess days' share {yuan(excess)} yuan",
                basis=f"over limit {dispense.code}",
                claims=tuple(c.id for c in claims),
                encounters=(dispense.encounter,) if dispense.encounter else (),
                dispenses=(dispense.id,),
            )
        )
    return found


def _overlapping(data: AuditData, params: ClaimsAuditParams) -> list[Finding]:
    tolerance = params.excess_quantity.overlap_tolerance_days
    by_drug: dict[tuple[str, str], list[Dispense]] = defaultdict(list)
    for dispense in data.dispenses:
        if dispense.days_supply:
            by_drug[(dispense.person, dispense.code)].append(dispense)
    found = []
    for (person, code), group in by_drug.items():
        group.sort(key=lambda d: (d.handed_over, d.id))
        for index, earlier in enumerate(group):
            covered_to = earlier.handed_over + timedelta(days=earlier.days_supply or 0)
            for later in group[index + 1 :]:
                overlap = (covered_to - later.handed_over).days
                if overlap <= tolerance:
                    break  # sorted by day: the later ones overlap even less
                if later.facility == earlier.facility:
                    continue
                found.append(_overlap_finding(data, earlier, later, overlap, person, code))
    return found


def _overlap_finding(
    data: AuditData, earlier: Dispense, later: Dispense, overlap: int, person: str, code: str
) -> Finding:
    claims, amount = _billed_for(data, later)
    days = later.days_supply or 1
    at_risk = amount * min(overlap, days) // days
    return Finding(
        rule=CODE,
        severity=Severity.MODERATE,
        facility=later.facility,
        person=person,
        day=later.handed_over,
        amount_fen=at_risk,
        detail=f"{code} dispensed at {later.facility} on {later.handed_over.isoformat()} "
        f"(MedicationDispense/{later.id}) while {overlap} days of MedicationDispense/"
        f"{earlier.id} from {earlier.facility} remained; the overlap's share {yuan(at_risk)} yuan",
        basis=f"overlap {code}",
        claims=tuple(c.id for c in claims),
        encounters=tuple(d.encounter for d in (earlier, later) if d.encounter),
        dispenses=(earlier.id, later.id),
    )
