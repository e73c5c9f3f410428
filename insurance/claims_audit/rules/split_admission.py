"""split-admission (分解住院): discharged and readmitted at the same facility with the same main
diagnosis within N days (``split_admission.readmission_days``). Pure."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise

from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.rules._shared import yuan
from insurance.claims_audit.view import AuditData, Encounter
from insurance.policy import PolicyVersion

CODE = RuleCode.SPLIT_ADMISSION


def find(data: AuditData, params: ClaimsAuditParams, policy: PolicyVersion) -> list[Finding]:
    limit = params.split_admission.readmission_days
    stays: dict[tuple[str, str], list[Encounter]] = defaultdict(list)
    for encounter in data.encounters:
        if encounter.inpatient:
            stays[(encounter.person, encounter.facility)].append(encounter)
    found = []
    for (person, facility), group in stays.items():
        group.sort(key=lambda e: (e.start, e.id))
        for before, after in pairwise(group):
            if before.end is None or not before.main_diagnosis:
                continue
            gap = (after.start.date() - before.end.date()).days
            if not 0 <= gap <= limit or after.main_diagnosis != before.main_diagnosis:
                continue
            readmission = data.claims_of([after.id])
            at_risk = sum(c.fund_fen for c in readmission)
            found.append(
                Finding(
                    rule=CODE,
                    severity=Severity.HIGH,
                    facility=facility,
                    person=person,
                    day=after.start.date(),
                    amount_fen=at_risk,
                    detail=f"Encounter/{after.id} readmitted {gap} days after Encounter/"
                    f"{before.id} was discharged (limit {limit}), same main diagnosis "
                    f"{before.main_diagnosis}; the readmission's fund share {yuan(at_risk)} yuan",
                    basis=f"readmission {before.main_diagnosis}",
                    claims=tuple(c.id for c in (*data.claims_of([before.id]), *readmission)),
                    encounters=(before.id, after.id),
                )
            )
    return found
