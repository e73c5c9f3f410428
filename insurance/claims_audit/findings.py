"""A finding: what a rule saw, with its evidence. Pure.

Its ``key`` is deterministic (rule + the records implicated + the basis the rule names), so
running the rules again finds the same key and the store writes the finding once. ``absence``
marks a finding that rests on a record the hub does not hold (no encounter, dispense or
prescription, or one of another drug): a feed that arrives late may disprove it, so the
incremental audit closes it when a re-run no longer finds it.
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
    prescriptions: tuple[str, ...] = ()  # MedicationRequest ids
    absence: bool = False  # not part of the key: whether later data may disprove it

    def __post_init__(self) -> None:
        for name in ("claims", "encounters", "dispenses", "prescriptions"):
            object.__setattr__(self, name, tuple(sorted(set(getattr(self, name)))))
        if self.amount_fen < 0:
            raise ValueError("a finding's amount at risk is never negative")

    @property
    def key(self) -> str:
        """The finding's stable identifier: the same evidence gives the same key."""
        parts = [
            str(self.rule),
            ",".join(self.claims),
            ",".join(self.encounters),
            ",".join(self.dispenses),
            self.basis,
        ]
        if self.prescriptions:  # only then: the keys of findings without any stay as they were
            parts.append(",".join(self.prescriptions))
        text = "\n".join(parts)
        return hashlib.sha256(text.encode()).hexdigest()[:40]
