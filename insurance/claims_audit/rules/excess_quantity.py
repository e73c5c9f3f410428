"""excess-quantity (超量开药): a dispense's days' supply over the limit (acute or chronic drug),
the same drug dispensed to one person at two facilities for overlapping days, or (with
prescription matching) more units of a drug billed for an encounter than its standing
prescriptions allow or its dispenses handed over. Pure.

Billing beyond the prescription is reported here rather than as ``duplicate-charge``: the
latter is the same item billed twice (lines or claims), which it finds whatever the
quantities; units beyond what was prescribed and dispensed is a quantity the evidence does not
support, whether billed on one line or on several."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.rules._prescribed import billed_visits, refs, standing
from insurance.claims_audit.rules._shared import yuan
from insurance.claims_audit.view import AuditData, Claim, Dispense, Line
from insurance.policy import PolicyVersion

CODE = RuleCode.EXCESS_QUANTITY


def find(data: AuditData, params: ClaimsAuditParams, policy: PolicyVersion) -> list[Finding]:
    return (
        _over_limit(data, params)
        + _overlapping(data, params)
        + _beyond_prescribed(data, params, policy)
    )


def _beyond_prescribed(
    data: AuditData, params: ClaimsAuditParams, policy: PolicyVersion
) -> list[Finding]:
    """Units of a drug billed for one encounter (all its claims) beyond the smaller of what its
    standing prescriptions allow and what its dispenses handed over (leg: quantity)."""
    tolerance = params.prescription_match.quantity_tolerance
    billed: dict[tuple[str, str], list[tuple[Claim, Line]]] = defaultdict(list)
    for visit in billed_visits(data, params, policy):
        for line in visit.drugs:
            billed[(visit.encounter, line.code)].append((visit.claim, line))
    found = []
    for (encounter, code), lines in sorted(billed.items()):
        of_drug = tuple(
            p for p in data.prescriptions_of(encounter) if p.code == code and standing(p)
        )
        allowed = [p.allowed for p in of_drug]
        if not of_drug or None in allowed:
            continue  # not prescribed (item-swap's) or a prescription naming no quantity
        dispensed = [d for d in data.dispenses_of(encounter) if d.code == code]
        limits = {"prescribed": sum(a or 0 for a in allowed)}
        if dispensed:
            limits["dispensed"] = sum(d.quantity for d in dispensed)
        units = sum(ln.quantity for _, ln in lines)
        leg, limit = min(limits.items(), key=lambda kv: (kv[1], kv[0]))
        if units <= limit + tolerance:
            continue
        amount = sum(ln.amount_fen for _, ln in lines)
        at_risk = amount * (units - limit) // units
        first = min(lines, key=lambda pair: (pair[0].id, pair[1].sequence))[0]
        found.append(
            Finding(
                rule=CODE,
                severity=Severity.MODERATE,
                facility=first.facility,
                person=first.person,
                day=min(ln.service_date for _, ln in lines),
                amount_fen=at_risk,
                detail=f"quantity leg: {units} units of {code} billed for Encounter/{encounter}; "
                f"{' and '.join(f'{k} {v}' for k, v in sorted(limits.items()))} ({refs(of_drug)}"
                f"); {units - limit} units beyond the {leg} quantity, their share "
                f"{yuan(at_risk)} yuan",
                basis=f"beyond prescribed {code} {encounter}",
                claims=tuple(c.id for c, _ in lines),
                encounters=(encounter,),
                dispenses=tuple(d.id for d in dispensed),
                prescriptions=tuple(p.id for p in of_drug),
                absence=True,
            )
        )
    return found


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
