"""A hospital's circulated prescription and a pharmacy's dispenses, as FHIR bodies."""

from __future__ import annotations

from typing import Any

import httpx

from insurance.pharmacy.rules import supporting_dispense
from insurance.resources import CATALOGUE_SYSTEM
from tests.integration.test_consent_records import actor, consent

DRUG = "XN02BEA001B002010100005"  # class B, 0.90 yuan a tablet
OTHER_DRUG = "XL01XCR096B002010100004"
PHARMACY, OTHER_PHARMACY = "PH001", "PH002"


def ensure_organizations(api: httpx.Client, *codes: str) -> None:
    """The facilities as Organizations (a hub started without the region registry lacks them)."""
    for code in codes:
        if api.get(f"/Organization/{code}").status_code == 404:
            body = {"resourceType": "Organization", "id": code, "name": code}
            assert api.put(f"/Organization/{code}", json=body).status_code in (200, 201)


def prescribe(
    hospital: httpx.Client,
    patient: str,
    *,
    quantity: int,
    repeats: int = 0,
    pharmacy: str | None = PHARMACY,
    code: str = DRUG,
) -> str:
    """A hospital's MedicationRequest addressed to ``pharmacy`` (None: any pharmacy)."""
    supply: dict[str, Any] = {
        "quantity": {"value": quantity, "unit": "片"},
        "numberOfRepeatsAllowed": repeats,
    }
    if pharmacy:
        supply["performer"] = {"reference": f"Organization/{pharmacy}"}
    body = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": f"Patient/{patient}"},
        "medicationCodeableConcept": {"coding": [{"system": CATALOGUE_SYSTEM, "code": code}]},
        "dispenseRequest": supply,
    }
    created = hospital.post("/MedicationRequest", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def dispense_body(
    prescription: str, patient: str, quantity: int, *, code: str = DRUG, status: str = "completed"
) -> dict[str, Any]:
    return {
        "resourceType": "MedicationDispense",
        "status": status,
        "subject": {"reference": f"Patient/{patient}"},
        "authorizingPrescription": [{"reference": f"MedicationRequest/{prescription}"}],
        "medicationCodeableConcept": {"coding": [{"system": CATALOGUE_SYSTEM, "code": code}]},
        "quantity": {"value": quantity, "unit": "片"},
    }


def payment_consent(hospital: httpx.Client, patient: str, pharmacy: str = PHARMACY) -> None:
    """The patient's consent that ``pharmacy`` settles with their insurance (purpose HPAYMT)."""
    body = consent(
        patient,
        {
            "type": "permit",
            "actor": [actor(f"Organization/{pharmacy}")],
            "purpose": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason", "code": "HPAYMT"}
            ],
        },
    )
    created = hospital.post("/Consent", json=body)
    assert created.status_code == 201, created.text


def dispense_claim(
    patient: str, coverage: str, dispensed: list[tuple[str, int]], key: str
) -> dict[str, Any]:
    """A pharmacy's Claim settling its dispenses ((id, quantity) of the drug at 0.90 yuan)."""
    return {
        "resourceType": "Claim",
        "identifier": [{"system": f"urn:pharmacy:{PHARMACY}", "value": key}],
        "status": "active",
        "type": {"coding": [{"code": "pharmacy"}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{patient}"},
        "created": "2026-03-01",
        "provider": {"reference": f"Organization/{PHARMACY}"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [
            {"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{coverage}"}}
        ],
        "supportingInfo": [supporting_dispense(n, d) for n, (d, _) in enumerate(dispensed, 1)],
        "item": [
            {
                "sequence": n,
                "informationSequence": [n],
                "productOrService": {"coding": [{"code": DRUG}]},
                "quantity": {"value": quantity},
                "unitPrice": {"value": 0.90, "currency": "CNY"},
            }
            for n, (_, quantity) in enumerate(dispensed, 1)
        ],
    }
