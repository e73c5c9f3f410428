"""The typed, pure view of what the rules read: settled claims, encounters, prescriptions,
dispenses, persons.

Built from FHIR by :mod:`insurance.claims_audit.loading` (or by hand in tests). Money is integer
fen; days are dates, encounter times timezone-aware datetimes. ``person`` is the hub's Patient id
the records name (the patient index links a person's records; the loader resolves them).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from insurance.claims_audit.params import Sex

T = TypeVar("T")


@dataclass(frozen=True)
class Person:
    id: str
    sex: Sex = Sex.UNKNOWN
    birth_date: date | None = None
    death_date: date | None = None

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        born = self.birth_date
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass(frozen=True)
class Line:
    """One billed item of a claim."""

    sequence: int
    code: str
    quantity: int
    unit_price_fen: int
    service_date: date
    fund_fen: int = 0  # what the fund paid for it (the ClaimResponse's benefit)
    encounter: str | None = None  # Claim.item.encounter

    @property
    def amount_fen(self) -> int:
        return self.quantity * self.unit_price_fen

    def scope(self, claim_id: str) -> str:
        """What "one encounter" means for the line: its encounter, else its claim."""
        return f"Encounter/{self.encounter}" if self.encounter else f"Claim/{claim_id}"


@dataclass(frozen=True)
class Claim:
    id: str
    person: str
    facility: str
    created: date
    lines: tuple[Line, ...]
    diagnoses: tuple[str, ...] = ()

    @property
    def encounters(self) -> tuple[str, ...]:
        return tuple(sorted({line.encounter for line in self.lines if line.encounter}))

    @property
    def amount_fen(self) -> int:
        return sum(line.amount_fen for line in self.lines)

    @property
    def fund_fen(self) -> int:
        return sum(line.fund_fen for line in self.lines)


@dataclass(frozen=True)
class Encounter:
    id: str
    person: str
    facility: str
    start: datetime
    end: datetime | None = None  # an open stay: still in hospital
    inpatient: bool = False
    main_diagnosis: str | None = None


@dataclass(frozen=True)
class Dispense:
    id: str
    person: str
    facility: str
    code: str
    quantity: int
    handed_over: date
    days_supply: int | None = None
    encounter: str | None = None
    prescriptions: tuple[str, ...] = ()  # authorizingPrescription: MedicationRequest ids


@dataclass(frozen=True)
class Prescription:
    """A MedicationRequest: what was prescribed, for which visit, and whether it still holds."""

    id: str
    person: str
    facility: str  # the prescribing facility
    code: str  # the drug, in the catalogue's coding (as Claim items bill it)
    status: str  # MedicationRequest.status
    quantity: int | None = None  # dispenseRequest.quantity, None when it names none
    repeats: int = 0  # dispenseRequest.numberOfRepeatsAllowed
    days_supply: int | None = None  # dispenseRequest.expectedSupplyDuration, in days
    encounter: str | None = None
    authored: date | None = None
    valid_until: date | None = None  # dispenseRequest.validityPeriod.end

    @property
    def allowed(self) -> int | None:
        """What may be dispensed and billed in all: the quantity, once plus each repeat."""
        return None if self.quantity is None else self.quantity * (1 + self.repeats)


def _grouped(items: Iterable[T], key: Callable[[T], Iterable[str]]) -> dict[str, tuple[T, ...]]:
    groups: dict[str, list[T]] = defaultdict(list)
    for item in items:
        for value in key(item):
            groups[value].append(item)
    return {k: tuple(v) for k, v in groups.items()}


@dataclass(frozen=True)
class AuditData:
    claims: tuple[Claim, ...] = ()
    encounters: tuple[Encounter, ...] = ()
    dispenses: tuple[Dispense, ...] = ()
    persons: tuple[Person, ...] = ()
    prescriptions: tuple[Prescription, ...] = ()
    _encounter: dict[str, Encounter] = field(init=False, repr=False, compare=False)
    _person: dict[str, Person] = field(init=False, repr=False, compare=False)
    _dispenses_of: dict[str, tuple[Dispense, ...]] = field(init=False, repr=False, compare=False)
    _prescription: dict[str, Prescription] = field(init=False, repr=False, compare=False)
    _prescriptions_of: dict[str, tuple[Prescription, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_encounter", {e.id: e for e in self.encounters})
        object.__setattr__(self, "_person", {p.id: p for p in self.persons})
        dispensed = _grouped(self.dispenses, lambda d: (d.encounter,) if d.encounter else ())
        object.__setattr__(self, "_dispenses_of", dispensed)
        object.__setattr__(self, "_prescription", {p.id: p for p in self.prescriptions})
        prescribed = _grouped(self.prescriptions, lambda p: (p.encounter,) if p.encounter else ())
        object.__setattr__(self, "_prescriptions_of", prescribed)

    def encounter(self, encounter_id: str) -> Encounter | None:
        return self._encounter.get(encounter_id)

    def person(self, person_id: str) -> Person | None:
        return self._person.get(person_id)

    def dispenses_of(self, encounter_id: str) -> tuple[Dispense, ...]:
        return self._dispenses_of.get(encounter_id, ())

    def prescription(self, prescription_id: str) -> Prescription | None:
        return self._prescription.get(prescription_id)

    def prescriptions_of(self, encounter_id: str) -> tuple[Prescription, ...]:
        """The prescriptions written for an encounter, and those its dispenses name."""
        own = self._prescriptions_of.get(encounter_id, ())
        named = {
            p.id: p
            for d in self.dispenses_of(encounter_id)
            for ref in d.prescriptions
            if (p := self._prescription.get(ref)) is not None
        }
        named.update((p.id, p) for p in own)
        return tuple(sorted(named.values(), key=lambda p: p.id))

    def claims_of(self, encounter_ids: Iterable[str]) -> tuple[Claim, ...]:
        wanted = set(encounter_ids)
        return tuple(c for c in self.claims if wanted & set(c.encounters))
