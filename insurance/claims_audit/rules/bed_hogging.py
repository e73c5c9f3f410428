"""bed-hogging (挂床住院): inpatient days on which only bed and nursing were charged, for at
least ``bed_hogging.min_idle_days`` days in a row. Pure."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.rules._shared import billed, yuan
from insurance.claims_audit.view import AuditData, Claim, Line
from insurance.policy import PolicyVersion

CODE = RuleCode.BED_HOGGING


def find(data: AuditData, params: ClaimsAuditParams, policy: PolicyVersion) -> list[Finding]:
    idle_codes = set(params.bed_hogging.bed_and_nursing_codes)
    minimum = params.bed_hogging.min_idle_days
    days: dict[str, dict[date, list[tuple[Claim, Line]]]] = defaultdict(lambda: defaultdict(list))
    for claim in data.claims:
        for line in claim.lines:
            stay = data.encounter(line.encounter) if line.encounter else None
            if stay is not None and stay.inpatient:
                days[stay.id][line.service_date].append((claim, line))
    found = []
    for stay_id, by_day in days.items():
        idle = sorted(
            d for d, lines in by_day.items() if all(ln.code in idle_codes for _, ln in lines)
        )
        for run in _runs(idle):
            if len(run) < minimum:
                continue
            lines = [pair for day in run for pair in by_day[day]]
            amount = billed(lines)
            claim = lines[0][0]
            found.append(
                Finding(
                    rule=CODE,
                    severity=Severity.MODERATE,
                    facility=claim.facility,
                    person=claim.person,
                    day=run[0],
                    amount_fen=amount,
                    detail=f"Encounter/{stay_id}: {len(run)} days from {run[0].isoformat()} to "
                    f"{run[-1].isoformat()} charged only bed and nursing (at least {minimum} "
                    f"flags a stay): {yuan(amount)} yuan",
                    basis=f"idle from {run[0].isoformat()}",
                    claims=tuple(c.id for c, _ in lines),
                    encounters=(stay_id,),
                )
            )
    return found


def _runs(days: list[date]) -> list[list[date]]:
    """Sorted days cut into runs of consecutive days."""
    runs: list[list[date]] = []
    for day in days:
        if runs and runs[-1][-1] + timedelta(days=1) == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs
