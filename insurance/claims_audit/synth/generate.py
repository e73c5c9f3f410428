"""A region's synthetic month: background traffic, then each pattern planted at ``rate`` of
the background's claims, and as many near-misses. Pure and deterministic for a seed."""

from __future__ import annotations

import calendar
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from insurance.claims_audit.synth.background import background
from insurance.claims_audit.synth.cases_billing import (
    duplicate_charge,
    item_swap,
    out_of_scope,
    unbundling,
)
from insurance.claims_audit.synth.cases_care import (
    bed_hogging,
    excess_quantity,
    phantom_service,
    split_admission,
)
from insurance.claims_audit.synth.records import Month, Sink
from insurance.claims_audit.synth.roles import roles_of
from insurance.claims_audit.synth.setting import Setting
from insurance.policy import Policy

PATTERNS: dict[str, Callable[[Setting, bool], None]] = {
    "duplicate-charge": duplicate_charge,
    "split-admission": split_admission,
    "bed-hogging": bed_hogging,
    "excess-quantity": excess_quantity,
    "item-swap": item_swap,
    "phantom-service": phantom_service,
    "out-of-scope": out_of_scope,
    "unbundling": unbundling,
}
DOCTORS = 3  # Practitioners per facility


@dataclass(frozen=True)
class Spec:
    first: date  # the month's first day
    persons: int  # background persons (each planted case has persons of its own)
    facilities: tuple[str, ...]
    seed: int = 0
    rate: float = 0.01  # planted cases per pattern, as a share of the background's claims
    prefix: str = ""  # of every id; default "cs<seed>"

    @property
    def last(self) -> date:
        return self.first.replace(day=calendar.monthrange(self.first.year, self.first.month)[1])


def planted_per_pattern(rate: float, background_claims: int) -> int:
    return round(rate * background_claims)


def generate_month(spec: Spec, policy: Policy, sink: Sink | None = None) -> Month:
    """The month under the policy version in force over all of it. With a ``sink``, the
    records go to it in batches as they are made (the returned month keeps only the truth)."""
    if len(spec.facilities) < 2:
        raise ValueError("a month needs at least two facilities (two places at once)")
    if not 0 <= spec.rate <= 0.1:
        raise ValueError("the rate is a share of claims between 0 and 0.1")
    version = policy.on(spec.first)
    if policy.on(spec.last).version != version.version:
        raise ValueError(f"two policy versions are in force in {spec.first:%Y-%m}")
    month = Month(version, spec.prefix or f"cs{spec.seed}", sink=sink)
    for facility in spec.facilities:
        for number in range(1, DOCTORS + 1):
            month.practitioner(facility, number)
    setting = Setting(month, roles_of(version), random.Random(spec.seed), spec.facilities,
                      spec.first, spec.last)  # fmt: skip
    background(setting, spec.persons)
    count = planted_per_pattern(spec.rate, month.claims_count)
    for plant in PATTERNS.values():
        for _ in range(count):
            plant(setting, True)
            month.settle()
        for _ in range(count):
            plant(setting, False)
            month.settle()
    month.settle(at_least=1)
    return month
