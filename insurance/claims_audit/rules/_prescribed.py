"""The prescription leg of three-way matching (claim, prescription, dispense), shared by the
rules that report its failures under their own codes. Pure.

A billed drug is matched on its encounter: the prescriptions written for it, plus those its
dispenses name (``authorizingPrescription``). An HL7 RDS from the facility's own HIS names no
prescription (only one circulated through the hub does), so the encounter and the drug are the
link the feeds always fill. Only claims of facilities the policy matches are looked at
(:class:`insurance.claims_audit.params.PrescriptionMatchParams`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from insurance.claims_audit.params import ClaimsAuditParams
from insurance.claims_audit.rules._shared import is_drug
from insurance.claims_audit.view import AuditData, Claim, Dispense, Line, Prescription
from insurance.policy import PolicyVersion

# A prescription that stands: in force, or fully dispensed. Cancelled, stopped, on hold,
# draft or entered in error authorise nothing.
STANDING = frozenset({"active", "completed"})


def standing(rx: Prescription) -> bool:
    return rx.status in STANDING


def in_force_on(rx: Prescription, day: date, valid_days: int) -> bool:
    """Standing and not expired on ``day``: its validityPeriod, else ``valid_days`` counting
    the day it was written; one written with no date expires never (nothing to count from)."""
    if not standing(rx) or (rx.authored is not None and day < rx.authored):
        return False
    if rx.valid_until is not None:
        return day <= rx.valid_until
    return rx.authored is None or day <= rx.authored + timedelta(days=valid_days - 1)


def refs(prescriptions: tuple[Prescription, ...]) -> str:
    return ", ".join(f"MedicationRequest/{p.id} ({p.code}, {p.status})" for p in prescriptions)


@dataclass(frozen=True)
class BilledVisit:
    """A claim's drug lines for one encounter the hub holds, with what lies behind them."""

    claim: Claim
    encounter: str
    drugs: tuple[Line, ...]
    prescriptions: tuple[Prescription, ...]  # every one, standing or not
    dispenses: tuple[Dispense, ...]

    @property
    def standing(self) -> tuple[Prescription, ...]:
        return tuple(p for p in self.prescriptions if standing(p))

    @property
    def prescribed_codes(self) -> frozenset[str]:
        return frozenset(p.code for p in self.standing)


def billed_visits(
    data: AuditData, params: ClaimsAuditParams, policy: PolicyVersion
) -> Iterator[BilledVisit]:
    """Each claim's drug lines by encounter, for the claims the policy matches."""
    match = params.prescription_match
    for claim in data.claims:
        if not match.applies_to(claim.facility):
            continue
        for encounter in claim.encounters:
            if data.encounter(encounter) is None:
                continue  # no encounter at all: phantom-service's "no encounter"
            drugs = tuple(
                ln for ln in claim.lines if ln.encounter == encounter and is_drug(policy, ln.code)
            )
            if drugs:
                yield BilledVisit(
                    claim,
                    encounter,
                    drugs,
                    data.prescriptions_of(encounter),
                    data.dispenses_of(encounter),
                )
