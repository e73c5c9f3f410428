"""Normal traffic, clean by construction: what no rule should flag. Pure.

Per person: at most one visit a day and none during a stay (nobody is at two places at once);
each drug at most once a month (no overlapping supplies anywhere); acute supplies within the
acute limit and chronic ones within the chronic limit; never all of a package's parts on one
encounter and day; the sex- and age-restricted items only for whom they are for; 丙 items
self-paid; every billed drug dispensed for its encounter; every stay day with a treatment
beside bed and nursing; one stay a month; nothing after death.
"""

from __future__ import annotations

from datetime import date, timedelta

from insurance.claims_audit.synth.setting import (
    ACUTE_DIAGNOSES,
    CHILD_DIAGNOSIS,
    CHRONIC_DIAGNOSES,
    SCREENING_DIAGNOSIS,
    SPECIALTY_DIAGNOSIS,
    WARD_DIAGNOSES,
    Setting,
)
from insurance.claims_audit.synth.visits import Clinic, Day, Rx, outpatient, stay

VISITS = ((0, 25), (1, 35), (2, 25), (3, 10), (4, 5))  # acute visits a month: (count, weight)
CLAIMS_PER_PERSON = 1.75  # measured mean (tests/unit/test_claims_synth.py), to size a month


class _Person:
    """One person's month: the days taken and the drugs used."""

    def __init__(self, s: Setting) -> None:
        self.s = s
        self.roles = s.roles
        self.age = s.rng.choices((s.rng.randint(0, 13), s.rng.randint(14, 59),
                                  s.rng.randint(60, 90)), weights=(12, 58, 30))[0]  # fmt: skip
        self.sex = s.rng.choice(("male", "female"))
        self.death = s.day(after=3) if s.rng.random() < 0.004 else None
        self.id = s.person(sex=self.sex, age=self.age, death=self.death)
        self.home = s.rng.choice(s.facilities)
        self.busy: set[date] = set()
        self.used: set[str] = set()

    @property
    def end(self) -> date:
        return self.death - timedelta(days=1) if self.death else self.s.last

    def free_day(self) -> date | None:
        for _ in range(8):
            day = self.s.first + timedelta(
                days=self.s.rng.randint(0, (self.end - self.s.first).days)
            )
            if day not in self.busy:
                self.busy.add(day)
                return day
        return None

    def clinic(self) -> Clinic:
        facility = self.home if self.s.rng.random() < 0.7 else self.s.rng.choice(self.s.facilities)
        return self.s.clinic(self.id, facility)

    def fresh_drug(self, codes: tuple[str, ...]) -> str | None:
        left = [c for c in codes if c not in self.used]
        if not left:
            return None
        code = self.s.rng.choice(left)
        self.used.add(code)
        return code


def _acute_visit(p: _Person, day: date) -> None:
    s, r = p.s, p.roles
    services = [r.consultation]
    if s.rng.random() < 0.4:
        services.append(s.rng.choice(r.tests))
    if r.package is not None and len(set(services) & set(r.package.parts)) >= r.package.min_parts:
        services = services[:1]  # never the whole package as parts
    drugs = []
    for _ in range(s.rng.choice((0, 1, 1, 2))):
        code = p.fresh_drug(r.acute_drugs)
        if code:
            drugs.append(Rx(code, s.rng.randint(2, r.params.excess_quantity.acute_max_days)))
    outpatient(p.clinic(), day, s.rng.choice(ACUTE_DIAGNOSES), services, drugs)


def _chronic_visit(p: _Person, day: date) -> None:
    r, rng = p.roles, p.s.rng
    limit = r.params.excess_quantity.chronic_max_days
    drugs = []
    for _ in range(rng.choice((1, 1, 2))):
        code = p.fresh_drug(r.chronic_drugs)
        if code:
            drugs.append(Rx(code, rng.randint(max(1, limit - 4), limit)))
    index = r.chronic_drugs.index(drugs[0].code) if drugs else 0
    diagnosis = CHRONIC_DIAGNOSES[index % len(CHRONIC_DIAGNOSES)]
    outpatient(p.s.clinic(p.id, p.home), day, diagnosis, [r.consultation], drugs)


def _other_visit(p: _Person, day: date) -> None:
    """A child's tuina, a sex-specific screening, or a self-paid (丙) item."""
    s, r = p.s, p.roles
    for code in r.child_items:
        low, high = r.age_limit(code)
        if low <= p.age < high:  # a year's margin: still within the limit at the month's end
            outpatient(p.clinic(), day, CHILD_DIAGNOSIS, [r.consultation, code])
            return
    screening = r.male_only if p.sex == "male" else r.female_only
    if screening and p.age >= 25 and s.rng.random() < 0.6:
        outpatient(p.clinic(), day, SCREENING_DIAGNOSIS, [r.consultation, s.pick(screening)])
    elif r.not_covered:
        outpatient(p.clinic(), day, SCREENING_DIAGNOSIS, [s.pick(r.not_covered)])


def _stay(p: _Person) -> None:
    s, r = p.s, p.roles
    length = s.rng.randint(2, 10)
    span = (p.end - s.first).days - length - 1
    if span < 0:
        return
    admitted = s.first + timedelta(days=s.rng.randint(0, span))
    for n in range(-1, length + 2):
        p.busy.add(admitted + timedelta(days=n))
    specialty = r.specialty_drugs and s.rng.random() < 0.1
    diagnosis = SPECIALTY_DIAGNOSIS if specialty else s.rng.choice(WARD_DIAGNOSES)
    drug = p.fresh_drug(r.acute_drugs) or r.acute_drugs[0]
    days = []
    for index in range(length):
        items: tuple[str, ...] = ()
        if r.repeatable and s.rng.random() < 0.5:
            items = tuple(r.repeatable[:1]) * s.rng.randint(1, 2)  # infusion sets: repeatable
        if index == 0:
            items += (s.rng.choice(r.tests),)
        if index == 1 and diagnosis == "I21.9" and r.ward_consumables:
            items += (r.ward_consumables[-1],)
        drugs = (drug, r.specialty_drugs[0]) if specialty and index == 0 else (drug,)
        days.append(Day(drugs=drugs, items=items))
    stay(s.clinic(p.id, p.home), admitted, days, diagnosis, r.bed_and_nursing)


def background(s: Setting, persons: int) -> None:
    """``persons`` people's ordinary month."""
    for _ in range(persons):
        p = _Person(s)
        if p.age >= 18 and s.rng.random() < 0.04:
            _stay(p)
        if p.age >= 40 and s.rng.random() < 0.3 and (day := p.free_day()):
            _chronic_visit(p, day)
        for _ in range(s.rng.choices([c for c, _ in VISITS], [w for _, w in VISITS])[0]):
            if day := p.free_day():
                _acute_visit(p, day)
        if s.rng.random() < 0.15 and (day := p.free_day()):
            _other_visit(p, day)
        s.month.settle()
