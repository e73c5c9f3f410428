"""Small helpers the rule modules share. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from insurance import money
from insurance.claims_audit.codes import RuleCode, Severity
from insurance.claims_audit.findings import Finding
from insurance.claims_audit.view import Claim, Line
from insurance.policy import ItemKind, PolicyVersion

DRUG_KINDS = frozenset({ItemKind.WESTERN_DRUG, ItemKind.PATENT_CHINESE_MEDICINE})


def is_drug(policy: PolicyVersion, code: str) -> bool:
    item = policy.item(code)
    return item is not None and item.kind in DRUG_KINDS


def yuan(fen: int) -> str:
    """Fen as a yuan amount with two decimals, for words and listings (Decimal, no float)."""
    return f"{money.yuan(fen):.2f}"


def billed(lines: Iterable[tuple[Claim, Line]]) -> int:
    return sum(line.amount_fen for _, line in lines)


def claim_finding(
    rule: RuleCode,
    severity: Severity,
    claim: Claim,
    *,
    day: date,
    amount: int,
    detail: str,
    basis: str,
    encounters: Iterable[str] = (),
    dispenses: Iterable[str] = (),
    prescriptions: Iterable[str] = (),
    absence: bool = False,
) -> Finding:
    """A finding about one claim: its facility and patient, the claim implicated."""
    return Finding(
        rule=rule,
        severity=severity,
        facility=claim.facility,
        person=claim.person,
        day=day,
        amount_fen=amount,
        detail=detail,
        basis=basis,
        claims=(claim.id,),
        encounters=tuple(encounters),
        dispenses=tuple(dispenses),
        prescriptions=tuple(prescriptions),
        absence=absence,
    )
