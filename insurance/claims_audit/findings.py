"""A finding: what a rule saw, with its evidence. Pure.

Its ``key`` is deterministic (rule + the records implicated + the basis the rule names), so
running the rules again finds the same key and the store writes the finding once.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

from insurance.claims_audit.codes import RuleCode, Severity


@dataclass(frozen=True)
class Finding:
    rule: RuleCode
    severity: Severity
    facility: str  # the facility the finding is about (whose claim)
    person: str  # the Patient id
    day: date  # the service day the finding is about
    amount_fen: int  # at risk: what the fund may have paid wrongly, in fen
    detail: str  # the evidence in words
    basis: str  # what distinguishes it besides the records (an item code, a date)
    claims: tuple[str, ...] = ()
    encounters: tuple[str, ...] = ()
    dispenses: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("claims", "encounters", "dispenses"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))
        if self.amount_fen < 0:
            raise ValueError("a finding's amount at risk is never negative")

    @property
    def key(self) -> str:
        """The finding's stable identifier: the same evidence gives the same key."""
        text = "\n".join(
            (
                str(self.rule),
                ",".join(self.claims),
                ",".join(self.encounters),
                ",".join(self.dispenses),
                self.basis,
            )
        )
        return hashlib.sha256(text.encode()).hexdigest()[:40]
