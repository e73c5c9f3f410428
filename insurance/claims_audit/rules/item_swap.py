"""item-swap (串换): a drug billed for an encounter whose dispenses hold other drugs and not it;
with prescription matching, a drug billed for an encounter whose standing prescriptions are for
other drugs (dispensed as billed, or dispensed as neither, or not dispensed).

Stock movements (the facility's 进销存) are not fed to the hub yet; this compares the claim
with the prescriptions and dispenses only. An encounter with no dispense at all, or no standing
prescription at all, is ``phantom-service``'s. Pure."""

from __future__ import annotations

from datetime import date

from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.rules._prescribed import BilledVisit, billed_visits, refs
from insurance.claims_audit.rules._shared import claim_finding, is_drug, yuan
from insurance.claims_audit.view import AuditData, Dispense
from insurance.policy import PolicyVersion

CODE = RuleCode.ITEM_SWAP


def find(data: AuditData, params: ClaimsAuditParams, policy: PolicyVersion) -> list[Finding]:
    if not params.item_swap.enabled:
        return []
    found = _not_dispensed_as_billed(data, policy)
    for visit in billed_visits(data, params, policy):
        if visit.standing:
            found += _not_prescribed(visit)
    return found


def _not_dispensed_as_billed(data: AuditData, policy: PolicyVersion) -> list[Finding]:
    found = []
    for claim in data.claims:
        billed_codes = {ln.code for ln in claim.lines}
        for line in claim.lines:
            if line.encounter is None or not is_drug(policy, line.code):
                continue
            dispenses = _dispenses_for(data, line.encounter, line.service_date)
            if not dispenses or any(d.code == line.code for d in dispenses):
                continue
            instead = [d for d in dispenses if d.code not in billed_codes]
            if not instead:
                continue
            found.append(
                claim_finding(
                    CODE,
                    Severity.HIGH,
                    claim,
                    day=line.service_date,
                    amount=line.amount_fen,
                    detail=f"Claim/{claim.id} item {line.sequence} bills {line.code} "
                    f"({yuan(line.amount_fen)} yuan) but Encounter/{line.encounter} dispensed "
                    f"{', '.join(sorted({d.code for d in instead}))} instead",
                    basis=f"billed {line.code} seq {line.sequence}",
                    encounters=(line.encounter,),
                    dispenses=(d.id for d in instead),
                    absence=True,
                )
            )
    return found


def _dispenses_for(data: AuditData, encounter_id: str, day: date) -> tuple[Dispense, ...]:
    """What a billed drug is compared with: an outpatient visit's dispenses; on a stay, those
    of the line's day (a drug dispensed on other days of the stay does not cover a day it was
    swapped), or the whole stay's when nothing was handed over that day."""
    dispenses = data.dispenses_of(encounter_id)
    encounter = data.encounter(encounter_id)
    if encounter is None or not encounter.inpatient:
        return dispenses
    of_day = tuple(d for d in dispenses if d.handed_over == day)
    return of_day or dispenses


def _not_prescribed(visit: BilledVisit) -> list[Finding]:
    """Billed drugs none of the encounter's standing prescriptions is for (leg: prescription).

    Left to the dispense comparison above: the billed drug was not dispensed and every drug
    that was is prescribed (the prescription and the dispenses agree; the bill alone differs).
    Left to ``phantom-service``: the billed drug was dispensed on a prescription for it that
    was cancelled or stopped (a dispense without a valid prescription, not another drug).
    """
    prescribed = visit.prescribed_codes
    found = []
    for line in visit.drugs:
        if line.code in prescribed:
            continue
        dispensed = {d.code for d in visit.dispenses}
        if line.code in dispensed and any(p.code == line.code for p in visit.prescriptions):
            continue
        if line.code in dispensed:
            how = f"dispensed as billed ({line.code}) without a prescription for it"
            shown = [d for d in visit.dispenses if d.code == line.code]
        elif dispensed and dispensed <= prescribed:
            continue
        elif dispensed:
            how = f"dispensed {', '.join(sorted(dispensed))}: matching neither"
            shown = list(visit.dispenses)
        else:
            how = "nothing dispensed"
            shown = []
        claim = visit.claim
        found.append(
            claim_finding(
                CODE,
                Severity.HIGH,
                claim,
                day=line.service_date,
                amount=line.amount_fen,
                detail=f"prescription leg: Claim/{claim.id} item {line.sequence} bills "
                f"{line.code} ({yuan(line.amount_fen)} yuan) but Encounter/{visit.encounter} "
                f"prescribed {', '.join(sorted(prescribed))} ({refs(visit.standing)}); {how}",
                basis=f"not prescribed {line.code} seq {line.sequence}",
                encounters=(visit.encounter,),
                dispenses=(d.id for d in shown),
                prescriptions=(p.id for p in visit.standing),
                absence=True,
            )
        )
    return found
