"""phantom-service (虚假就诊 / 虚记): a claim with no encounter behind it, a drug billed for an
encounter that dispensed nothing, a person at two facilities at once, a service after death;
with prescription matching, drugs billed for an encounter with no standing prescription, and a
billed drug dispensed on a prescription that was cancelled or had expired. Pure.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.rules._prescribed import (
    BilledVisit,
    billed_visits,
    in_force_on,
    refs,
)
from insurance.claims_audit.rules._shared import claim_finding, is_drug, yuan
from insurance.claims_audit.view import AuditData, Encounter
from insurance.policy import PolicyVersion

CODE = RuleCode.PHANTOM_SERVICE


def find(data: AuditData, params: ClaimsAuditParams, policy: PolicyVersion) -> list[Finding]:
    found = _no_encounter(data) + _after_death(data) + _two_places(data, params)
    if params.phantom_service.require_dispense:
        found += _no_dispense(data, policy)
    for visit in billed_visits(data, params, policy):
        if not visit.standing:
            found.append(_no_prescription(visit))
        else:
            found += _dispensed_unauthorised(visit, params.prescription_match.valid_days)
    return found


def _no_prescription(visit: BilledVisit) -> Finding:
    """Drugs billed for an encounter with no standing prescription (leg: prescription). The
    visit's dispenses are not part of it: one arriving late leaves the same finding open."""
    claim, drugs = visit.claim, visit.drugs
    amount = sum(ln.amount_fen for ln in drugs)
    others = f" (only {refs(visit.prescriptions)})" if visit.prescriptions else ""
    return claim_finding(
        CODE,
        Severity.MODERATE,
        claim,
        day=drugs[0].service_date,
        amount=amount,
        detail=f"prescription leg: Claim/{claim.id} bills {len(drugs)} drug items "
        f"({', '.join(sorted({ln.code for ln in drugs}))}; {yuan(amount)} yuan) for Encounter/"
        f"{visit.encounter}, which has no standing prescription{others}",
        basis=f"no prescription {visit.encounter}",
        encounters=(visit.encounter,),
        prescriptions=(p.id for p in visit.prescriptions),
        absence=True,
    )


def _dispensed_unauthorised(visit: BilledVisit, valid_days: int) -> list[Finding]:
    """A billed drug whose every dispense rests on a prescription of that drug that was not in
    force when it was handed over: cancelled, stopped, or expired (leg: dispense)."""
    found = []
    for line in visit.drugs:
        dispensed = [d for d in visit.dispenses if d.code == line.code]
        of_drug = tuple(p for p in visit.prescriptions if p.code == line.code)
        if not dispensed or not of_drug:
            continue  # nothing dispensed, or not prescribed at all: the other legs' findings
        if any(in_force_on(p, d.handed_over, valid_days) for d in dispensed for p in of_drug):
            continue
        claim = visit.claim
        found.append(
            claim_finding(
                CODE,
                Severity.HIGH,
                claim,
                day=line.service_date,
                amount=line.amount_fen,
                detail=f"dispense leg: Claim/{claim.id} item {line.sequence} bills {line.code} "
                f"({yuan(line.amount_fen)} yuan), dispensed on "
                f"{', '.join(sorted(d.handed_over.isoformat() for d in dispensed))} "
                f"(MedicationDispense/{', MedicationDispense/'.join(d.id for d in dispensed)}) "
                f"with no prescription in force then: {refs(of_drug)}, valid {valid_days} days",
                basis=f"unauthorised dispense {line.code} seq {line.sequence}",
                encounters=(visit.encounter,),
                dispenses=(d.id for d in dispensed),
                prescriptions=(p.id for p in of_drug),
                absence=True,
            )
        )
    return found


def _no_encounter(data: AuditData) -> list[Finding]:
    found = []
    for claim in data.claims:
        if any(data.encounter(e) is not None for e in claim.encounters):
            continue
        named = ", ".join(f"Encounter/{e}" for e in claim.encounters) or "no encounter"
        found.append(
            claim_finding(
                CODE,
                Severity.HIGH,
                claim,
                day=claim.created,
                amount=claim.amount_fen,
                detail=f"Claim/{claim.id} ({yuan(claim.amount_fen)} yuan) names {named}; the hub "
                "holds no encounter behind it",
                basis="no encounter",
                absence=True,
            )
        )
    return found


def _no_dispense(data: AuditData, policy: PolicyVersion) -> list[Finding]:
    found = []
    for claim in data.claims:
        for encounter in claim.encounters:
            if data.encounter(encounter) is None or data.dispenses_of(encounter):
                continue
            drugs = [
                ln for ln in claim.lines if ln.encounter == encounter and is_drug(policy, ln.code)
            ]
            if not drugs:
                continue
            amount = sum(ln.amount_fen for ln in drugs)
            found.append(
                claim_finding(
                    CODE,
                    Severity.MODERATE,
                    claim,
                    day=drugs[0].service_date,
                    amount=amount,
                    detail=f"Claim/{claim.id} bills {len(drugs)} drug items ({yuan(amount)} "
                    f"yuan) for Encounter/{encounter}, which has no dispense",
                    basis=f"no dispense {encounter}",
                    encounters=(encounter,),
                    absence=True,
                )
            )
    return found


def _after_death(data: AuditData) -> list[Finding]:
    found = []
    for claim in data.claims:
        person = data.person(claim.person)
        if person is None or person.death_date is None:
            continue
        died = person.death_date
        late = [ln for ln in claim.lines if ln.service_date > died]
        if not late:
            continue
        amount = sum(ln.amount_fen for ln in late)
        found.append(
            claim_finding(
                CODE,
                Severity.HIGH,
                claim,
                day=late[0].service_date,
                amount=amount,
                detail=f"Claim/{claim.id}: {len(late)} items ({yuan(amount)} yuan) dated after "
                f"the patient's death on {died.isoformat()}",
                basis="after death",
                encounters=(ln.encounter for ln in late if ln.encounter),
            )
        )
    return found


def _until(encounter: Encounter) -> datetime:
    if encounter.end is not None:
        return encounter.end
    return (
        datetime.max.replace(tzinfo=encounter.start.tzinfo)
        if encounter.inpatient
        else (encounter.start)
    )


def _two_places(data: AuditData, params: ClaimsAuditParams) -> list[Finding]:
    grace = timedelta(minutes=params.phantom_service.overlap_grace_minutes)
    by_person: dict[str, list[Encounter]] = defaultdict(list)
    for encounter in data.encounters:
        by_person[encounter.person].append(encounter)
    found = []
    for person, group in by_person.items():
        group.sort(key=lambda e: (e.start, e.id))
        for index, first in enumerate(group):
            for second in group[index + 1 :]:
                if second.start >= _until(first) - grace:
                    continue
                if second.facility == first.facility:
                    continue
                claims = data.claims_of([second.id])
                amount = sum(c.amount_fen for c in claims)
                found.append(
                    Finding(
                        rule=CODE,
                        severity=Severity.MODERATE,
                        facility=second.facility,
                        person=person,
                        day=second.start.date(),
                        amount_fen=amount,
                        detail=f"Encounter/{second.id} at {second.facility} began "
                        f"{second.start.isoformat()} while the patient was in Encounter/"
                        f"{first.id} at {first.facility}; its claims {yuan(amount)} yuan",
                        basis="two places",
                        claims=tuple(c.id for c in (*data.claims_of([first.id]), *claims)),
                        encounters=(first.id, second.id),
                    )
                )
    return found
