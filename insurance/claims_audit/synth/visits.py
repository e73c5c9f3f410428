"""An outpatient visit and an inpatient stay, each with its prescriptions, dispenses and
settled claim: the shapes background traffic and planted cases share. Pure.

A visit's deviations (what the fraud patterns change) are explicit arguments: a drug billed
but another dispensed (``Rx.dispensed``), a drug not dispensed at all, lines added, a claim
without its encounter. Everything else is as an honest HIS records it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from insurance.claims_audit.synth.records import Line, Month, Supply, at

DOSE = 3  # units a day of a drug (tablets, capsules, pills)


@dataclass(frozen=True)
class Rx:
    """A drug prescribed for ``days``; ``dispensed`` the code handed over when it differs from
    the billed one; ``dispense=False`` nothing handed over; ``late`` days after the visit;
    ``split`` handed over in two parts."""

    code: str
    days: int
    dispensed: str | None = None
    dispense: bool = True
    late: int = 0
    split: bool = False

    @property
    def quantity(self) -> int:
        return self.days * DOSE


@dataclass
class Visit:
    encounter: str | None
    start: datetime
    end: datetime
    claims: list[str] = field(default_factory=list)
    dispenses: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Clinic:
    """Who and where: the month, its rng, the person, the facility, the doctor."""

    month: Month
    rng: random.Random
    person: str
    facility: str

    def doctor(self) -> str:
        return f"{self.month.prefix}-dr-{self.facility}-{self.rng.randint(1, 3)}"


def drug_lines(
    c: Clinic, visit: Visit, encounter: str, drugs: list[Rx], when: datetime, day: date
) -> list[Line]:
    """Prescribe and dispense each drug; the lines bill the prescribed (billed) code."""
    lines = []
    for rx in drugs:
        given = rx.dispensed or rx.code
        ordered = Supply(c.person, encounter, given, rx.quantity, rx.days, when)
        request = c.month.prescribe(ordered, c.doctor())
        if rx.dispense:
            handed = when + timedelta(days=rx.late, minutes=20)
            half = rx.quantity // 2
            parts = [half, rx.quantity - half] if rx.split else [rx.quantity]
            for n, quantity in enumerate(parts):
                part = replace(ordered, quantity=quantity, days=rx.days * quantity // rx.quantity,
                               when=handed + timedelta(days=n))  # fmt: skip
                visit.dispenses.append(c.month.dispense(part, c.facility, request))
        lines.append(Line(rx.code, rx.quantity, day, encounter))
    return lines


def outpatient(
    c: Clinic,
    day: date,
    diagnosis: str,
    services: list[str],
    drugs: Sequence[Rx] = (),
    *,
    hour: int | None = None,
    minutes: int | None = None,
    extra: Sequence[Line] = (),
    paid: frozenset[str] = frozenset(),
    with_encounter: bool = True,
    created: datetime | None = None,
) -> Visit:
    """A clinic visit: the encounter, its drugs, one claim settled at the end of the visit."""
    start = at(day, hour if hour is not None else c.rng.randint(8, 15), c.rng.randrange(0, 60))
    end = start + timedelta(minutes=minutes if minutes is not None else c.rng.randint(15, 60))
    encounter = c.month.encounter(c.person, c.facility, start, end, diagnosis) if (
        with_encounter) else None  # fmt: skip
    visit = Visit(encounter, start=start, end=end)
    lines = [Line(code, 1, day, encounter, paid=code in paid) for code in services]
    if encounter is not None:
        lines += drug_lines(c, visit, encounter, list(drugs), start, day)
    lines = [replace(line, paid=line.code in paid) for line in [*lines, *extra]]
    visit.claims.append(
        c.month.claim(c.person, c.facility, created or end + timedelta(minutes=5), lines, diagnosis)
    )
    return visit


@dataclass(frozen=True)
class Day:
    """One billed day of a stay: drugs given that day and other items (tests, consumables)."""

    drugs: tuple[str, ...] = ()
    items: tuple[str, ...] = ()
    swap: tuple[str, str] | None = None  # (billed, dispensed) for one drug of the day


def stay(
    c: Clinic,
    admitted: date,
    days: list[Day],
    diagnosis: str,
    bed_and_nursing: tuple[str, ...],
    *,
    doubled: tuple[int, str] | None = None,
    created_after: int = 0,
) -> Visit:
    """An inpatient stay billed per day (bed and nursing every night, 算头不算尾), discharged
    the morning after its last billed day and settled at discharge (+ ``created_after`` days).
    ``doubled``: (day index, code) billed twice that day."""
    start = at(admitted, c.rng.randint(8, 16), c.rng.randrange(60))
    discharged = admitted + timedelta(days=len(days))
    end = at(discharged, c.rng.randint(8, 11), c.rng.randrange(60))
    encounter = c.month.encounter(c.person, c.facility, start, end, diagnosis, inpatient=True)
    visit = Visit(encounter, start=start, end=end)
    lines: list[Line] = []
    for index, plan in enumerate(days):
        day = admitted + timedelta(days=index)
        lines += [Line(code, 1, day, encounter) for code in (*bed_and_nursing, *plan.items)]
        when = at(day, 9, c.rng.randrange(60)) if index else start
        given = [Rx(code, 1) for code in plan.drugs]
        if plan.swap is not None:
            given.append(Rx(plan.swap[0], 1, dispensed=plan.swap[1]))
        lines += drug_lines(c, visit, encounter, given, when, day)
        if doubled is not None and doubled[0] == index:
            lines.append(Line(doubled[1], 1, day, encounter))
    created = end + timedelta(days=created_after, hours=2)
    visit.claims.append(
        c.month.claim(c.person, c.facility, created, lines, diagnosis, inpatient=True)
    )
    return visit
