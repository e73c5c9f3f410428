"""The month's setting shared by background traffic and planted cases: dates, facilities,
persons, diagnoses, and the truth rows. Pure."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from insurance.claims_audit.synth.records import Month, TruthRow
from insurance.claims_audit.synth.roles import Roles
from insurance.claims_audit.synth.visits import Clinic, Visit

ACUTE_DIAGNOSES = ("J06.9", "J20.9", "K29.7", "M54.5", "R50.9")  # ICD-10: URTI, bronchitis...
CHRONIC_DIAGNOSES = ("I10", "E11", "I25.1")  # paired in turn with the chronic drugs
WARD_DIAGNOSES = ("J18.9", "I63.9", "K80.1", "I21.9", "N39.0")  # pneumonia, stroke...
SPECIALTY_DIAGNOSIS = "C83.3"  # lymphoma: the specialty (biologic) drug
SCREENING_DIAGNOSIS = "Z00.0"  # a general examination
CHILD_DIAGNOSIS = "K59.0"  # infant constipation: paediatric tuina
PLANTED, NEAR_MISS = "planted", "near-miss"


@dataclass
class Setting:
    month: Month
    roles: Roles
    rng: random.Random
    facilities: tuple[str, ...]
    first: date  # the month's first and last day
    last: date

    def birth_for(self, age: int, on: date, *, days_past_birthday: int | None = None) -> date:
        """A birth date making the person ``age`` years old on ``on``."""
        past = days_past_birthday if days_past_birthday is not None else self.rng.randint(1, 360)
        birthday = on - timedelta(days=past)  # the last one before ``on``
        day = min(birthday.day, 28) if birthday.month == 2 else birthday.day
        return birthday.replace(year=birthday.year - age, day=day)

    def person(
        self, *, sex: str | None = None, age: int | None = None, death: date | None = None
    ) -> str:
        chosen = sex or self.rng.choice(("male", "female"))
        years = age if age is not None else self.rng.randint(20, 85)
        return self.month.patient(chosen, self.birth_for(years, self.first), death)

    def clinic(self, person: str, facility: str | None = None) -> Clinic:
        return Clinic(self.month, self.rng, person, facility or self.rng.choice(self.facilities))

    def other(self, facility: str) -> str:
        return self.rng.choice([f for f in self.facilities if f != facility])

    def day(self, *, after: int = 0, before: int = 0) -> date:
        """A day of the month, at least ``after`` days from its start and ``before`` from
        its end."""
        span = (self.last - self.first).days - after - before
        if span < 0:
            raise ValueError("the month is too short for this case")
        return self.first + timedelta(days=after + self.rng.randint(0, span))

    def pick(self, values: Sequence[str]) -> str:
        return self.rng.choice(list(values))

    def record(self, rule: str, kind: str, variant: str, *visits: Visit, dispenses: bool = True,
               claims: Sequence[str] | None = None) -> None:  # fmt: skip
        """A truth row naming the visits' claims, encounters and (optionally) dispenses."""
        number = sum(1 for t in self.month.truth if t.rule == rule and t.kind == kind) + 1
        self.month.truth.append(
            TruthRow(
                case=f"{rule}:{kind}:{number}",
                rule=rule,
                kind=kind,
                variant=variant,
                claims=tuple(claims if claims is not None else [c for v in visits
                                                                  for c in v.claims]),
                encounters=tuple(v.encounter for v in visits if v.encounter),
                dispenses=tuple(d for v in visits for d in v.dispenses) if dispenses else (),
            )
        )  # fmt: skip
