"""Planted care frauds and their near-misses: split admission, bed hogging, excess quantity,
phantom service. Each call writes one case on persons of its own and its truth row. Earlier
parts of a case (a first stay, a first supply) may fall before the month. Pure."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from insurance.claims_audit.synth.setting import (
    ACUTE_DIAGNOSES,
    CHRONIC_DIAGNOSES,
    NEAR_MISS,
    PLANTED,
    WARD_DIAGNOSES,
    Setting,
)
from insurance.claims_audit.synth.visits import Clinic, Day, Rx, Visit, outpatient, stay


def _ward(s: Setting, c: Clinic, admitted: date, length: int, diagnosis: str) -> Visit:
    days = [Day(drugs=(s.pick(s.roles.acute_drugs),)) for _ in range(length)]
    return stay(c, admitted, days, diagnosis, s.roles.bed_and_nursing)


def split_admission(s: Setting, planted: bool) -> None:
    """A discharge and a readmission ``gap`` days later (admission day - discharge day)."""
    rule, n = "split-admission", s.roles.readmission_days
    person = s.person()
    first_length, second_length = s.rng.randint(3, 10), s.rng.randint(2, 8)
    variant = "readmitted-within-days" if planted else s.rng.choice(
        ("readmitted-after-window", "other-diagnosis", "other-facility"))  # fmt: skip
    gap = s.rng.randint(n + 1, n + 10) if variant == "readmitted-after-window" else s.rng.randint(
        1, n)  # fmt: skip
    second_admitted = s.day(before=second_length + 1)
    first_admitted = second_admitted - timedelta(days=gap + first_length)
    c = s.clinic(person)
    diagnosis = s.pick(WARD_DIAGNOSES)
    first = _ward(s, c, first_admitted, first_length, diagnosis)
    again = s.clinic(person, s.other(c.facility)) if variant == "other-facility" else c
    second_diagnosis = s.pick([d for d in WARD_DIAGNOSES if d != diagnosis]) if (
        variant == "other-diagnosis") else diagnosis  # fmt: skip
    second = _ward(s, again, second_admitted, second_length, second_diagnosis)
    s.record(rule, PLANTED if planted else NEAR_MISS, f"{variant}:{gap}", first, second,
             dispenses=False)  # fmt: skip


def bed_hogging(s: Setting, planted: bool) -> None:
    """A stay with a run of days charged only bed and nursing."""
    rule, least = "bed-hogging", s.roles.params.bed_hogging.min_idle_days
    idle = s.rng.randint(least, least + 4) if planted else max(0, least - 1)
    runs = 1 if planted or s.rng.random() < 0.5 else 2  # near-miss: one or two short runs
    plan: list[Day] = [Day(drugs=(s.pick(s.roles.acute_drugs),), items=(s.pick(s.roles.tests),))]
    for _ in range(runs):
        plan += [Day()] * idle + [Day(drugs=(s.pick(s.roles.acute_drugs),))]
    plan += [Day(drugs=(s.pick(s.roles.acute_drugs),))] * s.rng.randint(0, 3)
    c = s.clinic(s.person(age=s.rng.randint(60, 90)))
    visit = stay(c, s.day(before=len(plan) + 1), plan, s.pick(WARD_DIAGNOSES),
                 s.roles.bed_and_nursing)  # fmt: skip
    variant = f"idle-days:{idle}" + (f"x{runs}" if runs > 1 else "")
    s.record(rule, PLANTED if planted else NEAR_MISS, variant, visit, dispenses=False)


def excess_quantity(s: Setting, planted: bool) -> None:
    r, rule = s.roles, "excess-quantity"
    limits = r.params.excess_quantity
    chronic_days = limits.chronic_max_days
    c = s.clinic(s.person(age=s.rng.randint(45, 85)))
    kind = PLANTED if planted else NEAR_MISS
    variant = s.rng.choice(("acute-over", "chronic-over", "two-facilities-overlap") if planted
                           else ("acute-at-limit", "chronic-at-limit", "two-facilities-early",
                                 "two-facilities-after"))  # fmt: skip
    chronic_diagnosis = s.pick(CHRONIC_DIAGNOSES)
    if variant in ("acute-over", "acute-at-limit"):
        days = limits.acute_max_days + (s.rng.randint(1, 14) if planted else 0)
        visit = outpatient(c, s.day(), s.pick(ACUTE_DIAGNOSES), [r.consultation],
                           [Rx(s.pick(r.acute_drugs), days)])  # fmt: skip
        s.record(rule, kind, f"{variant}:{days}", visit)
    elif variant in ("chronic-over", "chronic-at-limit"):
        days = chronic_days + s.rng.randint(1, 60) if planted else chronic_days
        visit = outpatient(c, s.day(), chronic_diagnosis, [r.consultation],
                           [Rx(s.pick(r.chronic_drugs), days)])  # fmt: skip
        s.record(rule, kind, f"{variant}:{days}", visit)
    else:  # the same drug at a second facility before the first supply runs out
        tolerance = limits.overlap_tolerance_days
        supply = s.rng.randint(max(tolerance + 3, chronic_days - 4), chronic_days)
        overlap = {
            "two-facilities-overlap": s.rng.randint(tolerance + 2, supply - 1),
            "two-facilities-early": s.rng.randint(1, max(1, tolerance - 1)),
            "two-facilities-after": -s.rng.randint(0, 5),
        }[variant]
        second_day = s.day()
        first_day = second_day - timedelta(days=supply - overlap)
        drug = s.pick(r.chronic_drugs)
        first = outpatient(c, first_day, chronic_diagnosis, [r.consultation], [Rx(drug, supply)])
        second = outpatient(s.clinic(c.person, s.other(c.facility)), second_day,
                            chronic_diagnosis, [r.consultation], [Rx(drug, supply)])  # fmt: skip
        s.record(rule, kind, f"{variant}:{overlap}", first, second)


def phantom_service(s: Setting, planted: bool) -> None:
    r, rule = s.roles, "phantom-service"
    grace = r.params.phantom_service.overlap_grace_minutes
    kind = PLANTED if planted else NEAR_MISS
    kinds = ("no-encounter", "drug-not-dispensed", "two-places-at-once", "after-death")
    misses = ("same-day-apart", "overlap-within-grace", "died-in-hospital")
    variant = s.rng.choice(kinds if planted else misses)
    diagnosis = s.pick(ACUTE_DIAGNOSES)
    if variant in ("no-encounter", "drug-not-dispensed"):
        c = s.clinic(s.person())
        drugs = [Rx(s.pick(r.acute_drugs), 5, dispense=False)] if variant != "no-encounter" else []
        visit = outpatient(c, s.day(), diagnosis, [r.consultation, s.pick(r.tests)], drugs,
                           with_encounter=variant != "no-encounter")  # fmt: skip
        s.record(rule, kind, variant, visit)
    elif variant in ("two-places-at-once", "same-day-apart", "overlap-within-grace"):
        c = s.clinic(s.person())
        day = s.day()
        first = outpatient(c, day, diagnosis, [r.consultation], hour=9, minutes=s.rng.randint(
            grace + 60, grace + 120))  # fmt: skip
        overlap = {
            "two-places-at-once": s.rng.randint(grace + 15, grace + 50),
            "overlap-within-grace": s.rng.randint(1, max(1, grace - 5)),
            "same-day-apart": -s.rng.randint(90, 240),
        }[variant]
        start = first.end - timedelta(minutes=overlap)
        elsewhere = s.clinic(c.person, s.other(c.facility))
        second = outpatient(elsewhere, day, s.pick(ACUTE_DIAGNOSES), [r.consultation])
        _move(s, second, start, max(40, overlap + 20))
        s.record(rule, kind, f"{variant}:{overlap}", first, second)
    elif variant == "after-death":
        death = s.day(before=3)
        c = s.clinic(s.person(death=death))
        later = death + timedelta(days=s.rng.randint(1, 10))
        later = min(later, s.last)
        visit = outpatient(c, later, s.pick(CHRONIC_DIAGNOSES), [r.consultation])
        s.record(rule, kind, variant, visit)
    else:  # died on the ward; the stay settled days after death, nothing served after it
        length = s.rng.randint(2, 8)
        admitted = s.day(before=length + 4)
        death = admitted + timedelta(days=length)
        c = s.clinic(s.person(death=death))
        days = [Day(drugs=(s.pick(r.acute_drugs),)) for _ in range(length)]
        visit = stay(c, admitted, days, s.pick(WARD_DIAGNOSES), r.bed_and_nursing,
                     created_after=s.rng.randint(1, 3))  # fmt: skip
        s.record(rule, kind, variant, visit, dispenses=False)


def _move(s: Setting, visit: Visit, start: datetime, minutes: int) -> None:
    """The second visit's encounter moved to ``start``, ``minutes`` long (its claim was
    created the same day)."""
    encounter = s.month.resources["Encounter"][-1]
    assert encounter["id"] == visit.encounter
    end = start + timedelta(minutes=minutes)
    encounter["period"] = {"start": start.isoformat(), "end": end.isoformat()}
