"""A circulated prescription (处方流转) and the dispenses against it. Pure: no I/O.

A hospital's ``MedicationRequest`` reaches a designated pharmacy through the hub; the pharmacy
records ``MedicationDispense`` resources whose ``authorizingPrescription`` is that request and
settles them. The rules here decide, from the resources alone:

- what a prescription allows in total: ``dispenseRequest.quantity`` x (1 +
  ``numberOfRepeatsAllowed``), in whole units of its quantity's unit;
- what a dispense counts against it: its quantity while ``status`` is ``completed``, nothing
  otherwise (a cancelled or entered-in-error dispense gives its quantity back);
- whether a facility may dispense against it: the prescription is addressed to that facility
  (``dispenseRequest.performer``) or to no one in particular, the dispense is for the
  prescription's patient (any record of the same person) and of one of its medications.

The running total is not decided here: the ledger (:mod:`insurance.pharmacy.ledger`) holds it
under a CHECK, so two pharmacies dispensing the last units at once cannot both succeed.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from insurance.resources import HUB, reference

MEDICATION_REQUEST = "MedicationRequest"
MEDICATION_DISPENSE = "MedicationDispense"
COUNTED_STATUS = "completed"
EXT_DISPENSE = f"{HUB}/StructureDefinition/settled-dispense"  # on a ClaimResponse item
INFO_CATEGORY = "http://terminology.hl7.org/CodeSystem/claiminformationcategory"


class Refusal(StrEnum):
    """Why a dispense (or its settlement) is refused; a stable code an app can show."""

    NOT_A_PRESCRIPTION = "not-a-prescription"
    NOT_ADDRESSED = "not-addressed-to-this-pharmacy"
    OTHER_PATIENT = "other-patient"
    OTHER_MEDICATION = "other-medication"
    NOT_ACTIVE = "prescription-not-active"
    NO_QUANTITY = "prescription-without-quantity"
    BAD_QUANTITY = "bad-quantity"
    MORE_THAN_PRESCRIBED = "more-than-prescribed"
    PRESCRIPTION_CHANGED = "prescription-changed"
    SETTLED = "dispense-settled"
    NOT_SETTLEABLE = "dispense-not-settleable"


class DispenseRefused(ValueError):
    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason


Coding = tuple[str, str]  # (system, code)


@dataclass(frozen=True)
class Prescription:
    id: str
    patient: str  # Patient/id
    medications: frozenset[Coding]
    performer: str | None  # Organization/code, None: any pharmacy
    total: int | None  # what may be dispensed in all, None when it names no quantity
    unit: str
    active: bool


@dataclass(frozen=True)
class Dispense:
    prescription: str | None  # the MedicationRequest id, None: not a prescription's dispense
    patient: str
    medications: frozenset[Coding]
    quantity: int
    unit: str
    completed: bool

    @property
    def counted(self) -> int:
        """What this dispense takes from its prescription."""
        return self.quantity if self.completed else 0


def _codings(resource: dict[str, Any]) -> frozenset[Coding]:
    concept = resource.get("medicationCodeableConcept") or {}
    return frozenset(
        (str(c.get("system") or ""), str(c["code"]))
        for c in concept.get("coding") or []
        if isinstance(c, dict) and c.get("code")
    )


def _unit(quantity: dict[str, Any]) -> str:
    return str(quantity.get("code") or quantity.get("unit") or "")


def _whole(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


def prescription(resource: dict[str, Any]) -> Prescription:
    supply = resource.get("dispenseRequest") or {}
    quantity = supply.get("quantity") or {}
    amount = _whole(quantity.get("value"))
    repeats = _whole(supply.get("numberOfRepeatsAllowed", 0))
    total = None
    if amount is not None and amount > 0 and repeats is not None and repeats >= 0:
        total = amount * (1 + repeats)
    return Prescription(
        id=str(resource.get("id")),
        patient=reference(resource.get("subject")),
        medications=_codings(resource),
        performer=reference(supply.get("performer")) or None,
        total=total,
        unit=_unit(quantity),
        active=resource.get("status") == "active",
    )


def prescription_of(resource: dict[str, Any]) -> str | None:
    """The MedicationRequest id a dispense names as its authorizing prescription."""
    for found in resource.get("authorizingPrescription") or []:
        target = reference(found)
        if target.startswith(f"{MEDICATION_REQUEST}/"):
            return target.removeprefix(f"{MEDICATION_REQUEST}/")
    return None


def dispense(resource: dict[str, Any]) -> Dispense:
    quantity = resource.get("quantity") or {}
    completed = resource.get("status") == COUNTED_STATUS
    amount = _whole(quantity.get("value", 0))
    if amount is None or amount < 0 or (completed and amount == 0):
        raise DispenseRefused(
            Refusal.BAD_QUANTITY,
            "MedicationDispense.quantity.value must be a positive whole number of units",
        )
    return Dispense(
        prescription=prescription_of(resource),
        patient=reference(resource.get("subject")),
        medications=_codings(resource),
        quantity=amount,
        unit=_unit(quantity),
        completed=completed,
    )


def _same_medication(a: frozenset[Coding], b: frozenset[Coding]) -> bool:
    """A coding in common; a coding without a system matches the same code in any system."""
    if a & b:
        return True
    bare_a = {code for system, code in a if not system}
    bare_b = {code for system, code in b if not system}
    return bool(bare_a & {c for _, c in b} or bare_b & {c for _, c in a})


def check_dispense(
    rx: Prescription, given: Dispense, facility: str | None, person: Collection[str]
) -> None:
    """Raise unless ``facility`` (None: an operator's correction) may record ``given`` against
    ``rx``; ``person`` holds every Patient id of the prescription's patient's person."""
    if facility is not None and rx.performer not in (None, f"Organization/{facility}"):
        raise DispenseRefused(
            Refusal.NOT_ADDRESSED,
            f"{MEDICATION_REQUEST}/{rx.id} is addressed to another pharmacy ({rx.performer})",
        )
    if given.patient.removeprefix("Patient/") not in person:
        raise DispenseRefused(
            Refusal.OTHER_PATIENT,
            f"the dispense is for another patient than {MEDICATION_REQUEST}/{rx.id}'s",
        )
    if not _same_medication(rx.medications, given.medications):
        raise DispenseRefused(
            Refusal.OTHER_MEDICATION,
            f"the dispensed medication is not the one {MEDICATION_REQUEST}/{rx.id} prescribes",
        )
    if rx.total is None:
        raise DispenseRefused(
            Refusal.NO_QUANTITY,
            f"{MEDICATION_REQUEST}/{rx.id} names no dispenseRequest.quantity to dispense from",
        )
    if rx.unit and given.unit and rx.unit != given.unit:
        raise DispenseRefused(
            Refusal.BAD_QUANTITY,
            f"the dispense counts in {given.unit}, {MEDICATION_REQUEST}/{rx.id} in {rx.unit}",
        )


def check_claimed(dispensed: dict[str, Any], item: dict[str, Any], person: Collection[str]) -> None:
    """A Claim item settles a dispense: a completed one, of the Claim's patient (``person``:
    every record of the same person), of the item's product, and exactly its quantity."""
    given = dispense(dispensed)
    name = f"{MEDICATION_DISPENSE}/{dispensed.get('id')}"
    if not given.completed or given.prescription is None:
        raise DispenseRefused(
            Refusal.NOT_SETTLEABLE,
            f"{name} is not a completed dispense against a prescription",
        )
    if given.patient.removeprefix("Patient/") not in person:
        raise DispenseRefused(Refusal.OTHER_PATIENT, f"{name} is for another patient")
    product = _codings({"medicationCodeableConcept": item.get("productOrService")})
    if not _same_medication(product, given.medications):
        raise DispenseRefused(
            Refusal.OTHER_MEDICATION, f"{name} is not of the item's productOrService"
        )
    if _whole((item.get("quantity") or {}).get("value", 1)) != given.quantity:
        raise DispenseRefused(Refusal.BAD_QUANTITY, f"the item's quantity is not {name}'s")


def claimed_dispenses(claim: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(Claim item, MedicationDispense id) for each item that settles a dispense: the item's
    ``informationSequence`` names a ``supportingInfo`` whose valueReference is the dispense."""
    infos = {
        info.get("sequence"): reference(info.get("valueReference"))
        for info in claim.get("supportingInfo") or []
        if isinstance(info, dict)
    }
    found = []
    for item in claim.get("item") or []:
        for sequence in item.get("informationSequence") or []:
            target = infos.get(sequence, "")
            if target.startswith(f"{MEDICATION_DISPENSE}/"):
                found.append((item, target.removeprefix(f"{MEDICATION_DISPENSE}/")))
    return found


def supporting_dispense(sequence: int, dispense_id: str) -> dict[str, Any]:
    """The ``Claim.supportingInfo`` entry an item names to settle a dispense."""
    return {
        "sequence": sequence,
        "category": {"coding": [{"system": INFO_CATEGORY, "code": "info"}]},
        "valueReference": {"reference": f"{MEDICATION_DISPENSE}/{dispense_id}"},
    }


def with_dispenses(response: dict[str, Any], claim: dict[str, Any]) -> dict[str, Any]:
    """The ClaimResponse with each item naming the dispense it settled."""
    by_sequence: dict[Any, list[str]] = {}
    for item, dispense_id in claimed_dispenses(claim):
        by_sequence.setdefault(item.get("sequence"), []).append(dispense_id)
    items = []
    for answer in response.get("item") or []:
        names = by_sequence.get(answer.get("itemSequence"), [])
        links = [
            {"url": EXT_DISPENSE, "valueReference": {"reference": f"{MEDICATION_DISPENSE}/{d}"}}
            for d in names
        ]
        items.append(dict(answer, extension=links) if links else answer)
    return dict(response, item=items)
