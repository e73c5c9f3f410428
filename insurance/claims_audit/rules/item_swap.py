"""item-swap (串换): a drug billed for an encounter whose dispenses hold other drugs and not it.

Stock movements (the facility's 进销存) are not fed to the hub yet; this compares the claim
with the dispenses only. An encounter with no dispense at all is ``phantom-service``'s. Pure."""

from __future__ import annotations

from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.rules._shared import claim_finding, is_drug, yuan
from insurance.claims_audit.view import AuditData
from insurance.policy import PolicyVersion

CODE = RuleCode.ITEM_SWAP


def find(data: AuditData, params: ClaimsAuditParams, policy: PolicyVersion) -> list[Finding]:
    if not params.item_swap.enabled:
        return []
    found = []
    for claim in data.claims:
        billed_codes = {ln.code for ln in claim.lines}
        for line in claim.lines:
            if line.encounter is None or not is_drug(policy, line.code):
                continue
            dispenses = data.dispenses_of(line.encounter)
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
                )
            )
    return found
