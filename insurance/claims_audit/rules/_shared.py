"""Small helpers the rule modules share. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from insurance.claims_audit.view import Claim, Line
from insurance.policy import ItemKind, PolicyVersion

DRUG_KINDS = frozenset({ItemKind.WESTERN_DRUG, ItemKind.PATENT_CHINESE_MEDICINE})


def is_drug(policy: PolicyVersion, code: str) -> bool:
    item = policy.item(code)
    return item is not None and item.kind in DRUG_KINDS


def yuan(fen: int) -> str:
    """Fen as a yuan amount for the words of a finding (integer arithmetic, no float)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def billed(lines: Iterable[tuple[Claim, Line]]) -> int:
    return sum(line.amount_fen for _, line in lines)
