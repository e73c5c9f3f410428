"""The pure rules of circulated prescriptions: what a prescription allows, what a dispense
counts, who may dispense against it, and how a Claim names the dispenses it settles."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.hl7v2.mappings import map_message
from insurance.pharmacy.rules import (
    EXT_DISPENSE,
    DispenseRefused,
    Refusal,
    check_claimed,
    check_dispense,
    claimed_dispenses,
    dispense,
    prescription,
    supporting_dispense,
    with_dispenses,
)
from insurance.resources import CATALOGUE_SYSTEM
from tests import hl7v2_cases as cases
from tests.unit.test_hl7_mappings import CONTEXT, check_bundle, of_type

DRUG = "XN02BEA001B002010100005"
OTHER_DRUG = "XL01XCR096B002010100004"


def _request(**supply: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "rx1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {"coding": [{"system": CATALOGUE_SYSTEM, "code": DRUG}]},
        "dispenseRequest": {"quantity": {"value": 20, "unit": "片"}, **supply},
    }


def _dispense(quantity: Any = 10, status: str = "completed", **changes: Any) -> dict[str, Any]:
    body = {
        "resourceType": "MedicationDispense",
        "id": "d1",
        "status": status,
        "subject": {"reference": "Patient/p1"},
        "authorizingPrescription": [{"reference": "MedicationRequest/rx1"}],
        "medicationCodeableConcept": {"coding": [{"system": CATALOGUE_SYSTEM, "code": DRUG}]},
        "quantity": {"value": quantity, "unit": "片"},
    }
    return {**body, **changes}


def test_a_prescription_allows_its_quantity_times_one_plus_its_repeats() -> None:
    assert prescription(_request()).total == 20
    assert prescription(_request(numberOfRepeatsAllowed=2)).total == 60
    assert prescription(_request(quantity={"value": 2.5})).total is None  # not whole units
    assert prescription(_request(quantity={})).total is None
    assert prescription(_request(numberOfRepeatsAllowed=-1)).total is None


def test_only_a_completed_dispense_counts() -> None:
    assert dispense(_dispense(12)).counted == 12
    assert dispense(_dispense(12, status="cancelled")).counted == 0
    assert dispense(_dispense(12, status="entered-in-error")).counted == 0
    assert dispense(_dispense(12)).prescription == "rx1"
    with pytest.raises(DispenseRefused):
        dispense(_dispense(1.5))
    with pytest.raises(DispenseRefused):
        dispense(_dispense(0))
    with pytest.raises(DispenseRefused):
        dispense(_dispense(True))


def _refusal(rx: dict[str, Any], given: dict[str, Any], facility: str | None) -> Refusal | None:
    try:
        check_dispense(prescription(rx), dispense(given), facility, {"p1", "p1-at-pharmacy"})
    except DispenseRefused as exc:
        return exc.reason
    return None


def test_who_may_dispense_against_a_prescription() -> None:
    addressed = _request(performer={"reference": "Organization/PH001"})
    assert _refusal(addressed, _dispense(), "PH001") is None
    assert _refusal(addressed, _dispense(), "PH002") is Refusal.NOT_ADDRESSED
    assert _refusal(addressed, _dispense(), None) is None  # an operator's correction
    assert _refusal(_request(), _dispense(), "PH002") is None  # addressed to any pharmacy
    # Any record of the prescription's person, not another patient.
    assert _refusal(_request(), _dispense(subject={"reference": "Patient/p1-at-pharmacy"}),
                    "PH001") is None  # fmt: skip
    assert _refusal(_request(), _dispense(subject={"reference": "Patient/p2"}),
                    "PH001") is Refusal.OTHER_PATIENT  # fmt: skip
    other = {"coding": [{"system": CATALOGUE_SYSTEM, "code": OTHER_DRUG}]}
    assert _refusal(_request(), _dispense(medicationCodeableConcept=other),
                    "PH001") is Refusal.OTHER_MEDICATION  # fmt: skip
    bare = {"coding": [{"code": DRUG}]}  # no system: the same code matches
    assert _refusal(_request(), _dispense(medicationCodeableConcept=bare), "PH001") is None
    boxes = _dispense(quantity=1)
    boxes["quantity"]["unit"] = "盒"
    assert _refusal(_request(), boxes, "PH001") is Refusal.BAD_QUANTITY
    assert _refusal(_request(quantity={}), _dispense(), "PH001") is Refusal.NO_QUANTITY


def _claim(dispense_id: str = "d1", quantity: int = 10) -> dict[str, Any]:
    return {
        "resourceType": "Claim",
        "supportingInfo": [supporting_dispense(1, dispense_id)],
        "item": [
            {"sequence": 1, "informationSequence": [1],
             "productOrService": {"coding": [{"code": DRUG}]}, "quantity": {"value": quantity}},
            {"sequence": 2, "productOrService": {"coding": [{"code": "001102000000100"}]}},
        ],
    }  # fmt: skip


def test_a_claim_names_its_dispenses_and_the_answer_names_them_back() -> None:
    claim = _claim()
    assert [(item["sequence"], d) for item, d in claimed_dispenses(claim)] == [(1, "d1")]
    response = {"item": [{"itemSequence": 1}, {"itemSequence": 2}]}
    items = with_dispenses(response, claim)["item"]
    assert items[0]["extension"] == [
        {"url": EXT_DISPENSE, "valueReference": {"reference": "MedicationDispense/d1"}}
    ]
    assert "extension" not in items[1]


def test_a_claim_item_settles_a_completed_dispense_of_its_patient_product_and_quantity() -> None:
    item = _claim()["item"][0]
    check_claimed(_dispense(), item, {"p1"})
    cases_refused = [
        (_dispense(status="cancelled"), item, {"p1"}, Refusal.NOT_SETTLEABLE),
        (_dispense(), item, {"p2"}, Refusal.OTHER_PATIENT),
        (_dispense(), _claim(quantity=9)["item"][0], {"p1"}, Refusal.BAD_QUANTITY),
        (_dispense(), _claim()["item"][1], {"p1"}, Refusal.OTHER_MEDICATION),
    ]
    for dispensed, claimed, person, reason in cases_refused:
        with pytest.raises(DispenseRefused) as refused:
            check_claimed(dispensed, claimed, person)
        assert refused.value.reason is reason


def test_rds_o13_names_the_hub_prescription_it_dispenses_against() -> None:
    mapped = map_message(cases.parse(cases.rds_o13("rx-42")), CONTEXT)
    check_bundle(mapped)
    (dispensed,) = of_type(mapped, "MedicationDispense")
    assert dispensed["authorizingPrescription"] == [{"reference": "MedicationRequest/rx-42"}]
    assert dispensed["quantity"]["value"] == 20 and dispensed["status"] == "completed"
    local = cases.with_segment_field(cases.rds_o13(), "ORC", 2, "P0001^HIS")
    (plain,) = of_type(map_message(cases.parse(local), CONTEXT), "MedicationDispense")
    assert "authorizingPrescription" not in plain  # a facility's own number: not circulated
