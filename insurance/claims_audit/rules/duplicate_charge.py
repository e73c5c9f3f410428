"""duplicate-charge (重复收费): the same item billed twice for one encounter and day, or the
same claim content (person, facility, items, amounts, days) settled twice. Pure."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.rules._shared import billed, yuan
from insurance.claims_audit.view import AuditData, Claim, Line
from insurance.policy import PolicyVersion

CODE = RuleCode.DUPLICATE_CHARGE


def find(data: AuditData, params: ClaimsAuditParams, policy: PolicyVersion) -> list[Finding]:
    return _same_item_twice(data, params) + _same_content_twice(data)


def _same_item_twice(data: AuditData, params: ClaimsAuditParams) -> list[Finding]:
    repeatable = set(params.duplicate_charge.repeatable_codes)
    groups: dict[tuple[str, str, date], list[tuple[Claim, Line]]] = defaultdict(list)
    for claim in data.claims:
        for line in claim.lines:
            if line.code not in repeatable:
                groups[(line.scope(claim.id), line.code, line.service_date)].append((claim, line))
    found = []
    for (scope, code, day), lines in groups.items():
        if len(lines) < 2:
            continue
        lines.sort(key=lambda pair: (pair[0].id, pair[1].sequence))
        extra = billed(lines[1:])
        first = lines[0][0]
        found.append(
            Finding(
                rule=CODE,
                severity=Severity.HIGH,
                facility=first.facility,
                person=first.person,
                day=day,
                amount_fen=extra,
                detail=f"item {code} billed {len(lines)} times for {scope} on {day.isoformat()}: "
                f"{yuan(extra)} yuan beyond the first",
                basis=f"item {code} {day.isoformat()} {scope}",
                claims=tuple(c.id for c, _ in lines),
                encounters=tuple(line.encounter for _, line in lines if line.encounter),
            )
        )
    return found


def _content(claim: Claim) -> tuple[tuple[str, int, int, date], ...]:
    return tuple(
        sorted((ln.code, ln.quantity, ln.unit_price_fen, ln.service_date) for ln in claim.lines)
    )


def _same_content_twice(data: AuditData) -> list[Finding]:
    groups: dict[tuple[object, ...], list[Claim]] = defaultdict(list)
    for claim in data.claims:
        groups[(claim.person, claim.facility, _content(claim))].append(claim)
    found = []
    for claims in groups.values():
        if len(claims) < 2:
            continue
        shared = set.intersection(*(set(c.encounters) for c in claims))
        if shared:  # one encounter: the lines are each the same item twice, found above
            continue
        claims.sort(key=lambda c: c.id)
        extra = sum(c.amount_fen for c in claims[1:])
        found.append(
            Finding(
                rule=CODE,
                severity=Severity.HIGH,
                facility=claims[0].facility,
                person=claims[0].person,
                day=min(c.created for c in claims),
                amount_fen=extra,
                detail=f"{len(claims)} claims with the same person, facility, items, amounts "
                f"and days ({', '.join('Claim/' + c.id for c in claims)}): {yuan(extra)} yuan "
                "beyond the first",
                basis="same content",
                claims=tuple(c.id for c in claims),
                encounters=tuple(e for c in claims for e in c.encounters),
            )
        )
    return found
