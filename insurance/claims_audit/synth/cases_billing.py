"""Planted billing frauds and their near-misses: duplicate charge, unbundling, out of scope,
item swap. Each call writes one case on persons of its own and its truth row. Pure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from insurance.claims_audit.synth.records import Line
from insurance.claims_audit.synth.setting import (
    ACUTE_DIAGNOSES,
    CHILD_DIAGNOSIS,
    NEAR_MISS,
    PLANTED,
    SCREENING_DIAGNOSIS,
    WARD_DIAGNOSES,
    Setting,
)
from insurance.claims_audit.synth.visits import Day, Rx, outpatient, stay


def _acute(s: Setting) -> int:
    return s.rng.randint(2, s.roles.params.excess_quantity.acute_max_days)


def duplicate_charge(s: Setting, planted: bool) -> None:
    r, rule = s.roles, "duplicate-charge"
    c = s.clinic(s.person())
    diagnosis = s.pick(ACUTE_DIAGNOSES)
    kinds = ("item-twice", "claim-resubmitted", "stay-day-twice")
    misses = ("repeatable-twice", "visit-another-day", "two-departments")
    variant = s.rng.choice(kinds if planted else misses)
    if variant == "item-twice":  # a test or the consultation billed twice for one visit
        code = s.pick((r.consultation, *r.tests))
        day = s.day()
        services = [r.consultation, code, code] if code != r.consultation else [code, code]
        visit = outpatient(c, day, diagnosis, services)
        s.record(rule, PLANTED, variant, visit)
    elif variant == "claim-resubmitted":  # the same visit's claim settled a second time
        day = s.day(before=2)
        drugs = [Rx(s.pick(r.acute_drugs), _acute(s))]
        first = outpatient(c, day, diagnosis, [r.consultation, s.pick(r.tests)], drugs)
        claim = s.month.resources["Claim"][-1]  # the visit's, just made
        again = s.month.claim(c.person, c.facility, first.end + timedelta(
            days=s.rng.randint(0, 2), hours=1), [Line(
            i["productOrService"]["coding"][0]["code"], i["quantity"]["value"], day,
            first.encounter) for i in claim["item"]], diagnosis)  # fmt: skip
        s.record(rule, PLANTED, variant, first, claims=[*first.claims, again])
    elif variant == "stay-day-twice":  # one day's bed (or nursing) billed twice
        length = s.rng.randint(3, 8)
        days = [Day(drugs=(s.pick(r.acute_drugs),)) for _ in range(length)]
        visit = stay(c, s.day(before=length + 1), days, s.pick(WARD_DIAGNOSES), r.bed_and_nursing,
                     doubled=(s.rng.randrange(length), s.pick(r.bed_and_nursing)))  # fmt: skip
        s.record(rule, PLANTED, variant, visit)
    elif variant == "repeatable-twice" and r.repeatable:  # two infusion sets on one ward day
        length = s.rng.randint(2, 6)
        days = [Day(drugs=(s.pick(r.acute_drugs),), items=(r.repeatable[0],) * 2)] * length
        visit = stay(c, s.day(before=length + 1), days, s.pick(WARD_DIAGNOSES), r.bed_and_nursing)
        s.record(rule, NEAR_MISS, variant, visit)
    elif variant == "two-departments":  # two clinics the same day, each its own consultation
        day = s.day()
        morning = outpatient(c, day, diagnosis, [r.consultation, r.tests[0]], hour=8, minutes=40)
        later = outpatient(c, day, s.pick(ACUTE_DIAGNOSES), [r.consultation, r.tests[-1]],
                           hour=14)  # fmt: skip
        s.record(rule, NEAR_MISS, variant, morning, later)
    else:  # a genuine follow-up on another day with the same items and amounts
        day = s.day(before=7)
        services = [r.consultation, s.pick(r.tests)]
        first = outpatient(c, day, diagnosis, services)
        second = outpatient(c, day + timedelta(days=s.rng.randint(1, 6)), diagnosis, services)
        s.record(rule, NEAR_MISS, "visit-another-day", first, second)


def unbundling(s: Setting, planted: bool) -> None:
    r, rule = s.roles, "unbundling"
    package = r.package
    if package is None:
        return
    c = s.clinic(s.person())
    parts = list(package.parts)
    s.rng.shuffle(parts)
    if planted:
        chosen = parts[: s.rng.randint(package.min_parts, len(parts))]
        day = s.day()
        if s.rng.random() < 0.5:  # the parts on one claim
            visit = outpatient(c, day, SCREENING_DIAGNOSIS, chosen)
            s.record(rule, PLANTED, "parts-one-claim", visit)
            return
        cut = s.rng.randint(1, len(chosen) - 1)  # the parts over two claims of the visit
        visit = outpatient(c, day, SCREENING_DIAGNOSIS, chosen[:cut])
        more = s.month.claim(c.person, c.facility, visit.end + timedelta(minutes=30),
                             [Line(code, 1, day, visit.encounter) for code in chosen[cut:]],
                             SCREENING_DIAGNOSIS)  # fmt: skip
        s.record(rule, PLANTED, "parts-two-claims", visit, claims=[*visit.claims, more])
        return
    variant = s.rng.choice(("the-package", "fewer-parts", "parts-on-two-days"))
    if variant == "the-package":  # the package itself, self-paid
        visit = outpatient(c, s.day(), SCREENING_DIAGNOSIS, [package.code])
        s.record(rule, NEAR_MISS, variant, visit)
    elif variant == "fewer-parts":
        visit = outpatient(c, s.day(), SCREENING_DIAGNOSIS, parts[: package.min_parts - 1])
        s.record(rule, NEAR_MISS, variant, visit)
    else:  # every part, over a visit and a follow-up days later
        day = s.day(before=6)
        cut = max(1, package.min_parts - 1)
        first = outpatient(c, day, SCREENING_DIAGNOSIS, parts[:cut])
        later = outpatient(c, day + timedelta(days=s.rng.randint(2, 5)), SCREENING_DIAGNOSIS,
                           parts[cut:])  # fmt: skip
        s.record(rule, NEAR_MISS, variant, first, later)


def out_of_scope(s: Setting, planted: bool) -> None:
    r, rule = s.roles, "out-of-scope"
    day = s.day()
    if planted:
        variant = s.rng.choice(("not-covered-paid", "other-sex", "over-age"))
        if variant == "other-sex" and (r.male_only or r.female_only):
            female = bool(r.male_only) and (not r.female_only or s.rng.random() < 0.5)
            code = s.pick(r.male_only if female else r.female_only)
            c = s.clinic(s.person(sex="female" if female else "male"))
            visit = outpatient(c, day, SCREENING_DIAGNOSIS, [r.consultation, code])
        elif variant == "over-age" and r.child_items:
            code = s.pick(r.child_items)
            age = r.age_limit(code)[1] + s.rng.randint(1, 60)
            c = s.clinic(s.person(age=age))
            visit = outpatient(c, day, "M54.5", [r.consultation, code])
        else:
            variant = "not-covered-paid"
            c = s.clinic(s.person())
            if r.not_covered_drugs and s.rng.random() < 0.5:  # a 丙 drug, dispensed, paid
                code = s.pick(r.not_covered_drugs)
                visit = outpatient(c, day, s.pick(ACUTE_DIAGNOSES), [r.consultation],
                                   [Rx(code, _acute(s))], paid=frozenset({code}))  # fmt: skip
            else:
                code = s.pick(r.not_covered)
                visit = outpatient(c, day, SCREENING_DIAGNOSIS, [code], paid=frozenset({code}))
        s.record(rule, PLANTED, variant, visit)
        return
    variant = s.rng.choice(("not-covered-self-paid", "age-at-limit"))
    if variant == "age-at-limit" and r.child_items:  # the last year the item is for
        code = s.pick(r.child_items)
        limit = r.age_limit(code)[1]
        person = s.month.patient(s.pick(("male", "female")), s.birth_for(
            limit, day, days_past_birthday=s.rng.randint(1, 300)))  # fmt: skip
        visit = outpatient(s.clinic(person), day, CHILD_DIAGNOSIS, [r.consultation, code])
    else:
        variant = "not-covered-self-paid"
        visit = outpatient(s.clinic(s.person()), day, SCREENING_DIAGNOSIS, [s.pick(r.not_covered)])
    s.record(rule, NEAR_MISS, variant, visit)


def item_swap(s: Setting, planted: bool) -> None:
    """Planted: a drug billed while another was handed over (a dearer one, or a covered one
    for a 丙 drug). Near-misses: handed over the next day, in two parts, two drugs."""
    r, rule = s.roles, "item-swap"
    c = s.clinic(s.person())
    day = s.day(before=2)
    diagnosis = s.pick(ACUTE_DIAGNOSES)
    if planted:
        variant = s.rng.choice(("dearer-drug", "covered-for-not-covered", "ward-day"))
        if variant == "ward-day":
            billed, given = s.rng.sample(list(r.acute_drugs), 2)
            length = s.rng.randint(2, 6)
            days = [Day(drugs=(billed,)) for _ in range(length)]
            days[s.rng.randrange(length)] = Day(swap=(billed, given))
            visit = stay(c, s.day(before=length + 1), days, s.pick(WARD_DIAGNOSES),
                         r.bed_and_nursing)  # fmt: skip
        else:
            pool = list(r.not_covered_drugs) if variant == "covered-for-not-covered" else []
            given = s.pick(pool) if pool else min(r.acute_drugs, key=_price(s))
            billed = max((d for d in r.acute_drugs if d != given), key=_price(s))
            variant = variant if pool else "dearer-drug"
            visit = outpatient(c, day, diagnosis, [r.consultation],
                               [Rx(billed, _acute(s), dispensed=given)])  # fmt: skip
        s.record(rule, PLANTED, variant, visit)
        return
    variant = s.rng.choice(("dispensed-next-day", "dispensed-in-two-parts", "two-drugs"))
    first, second = s.rng.sample(list(r.acute_drugs), 2)
    drugs = {
        "dispensed-next-day": [Rx(first, _acute(s), late=1)],
        "dispensed-in-two-parts": [Rx(first, _acute(s), split=True)],
        "two-drugs": [Rx(first, _acute(s)), Rx(second, _acute(s))],
    }[variant]
    visit = outpatient(c, day, diagnosis, [r.consultation], drugs)
    s.record(rule, NEAR_MISS, variant, visit)


def _price(s: Setting) -> Callable[[str], int]:
    def price(code: str) -> int:
        item = s.month.policy.item(code)
        return item.unit_price_fen if item else 0

    return price
