"""Settlement over the FHIR API: eligibility, pre-settle, settle (exactly once), reverse,
and the refusals (another facility, no coverage, a forged Coverage, price, catalogue)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from insurance.policy import Scheme
from insurance.resources import coverage_resource
from tests.integration.booking_helpers import new_patient

A_CODE = "001102000000100"  # consultation, class A, 10 yuan, ceiling 10
B_CODE = "XN02BEA001B002010100005"  # class B, 0.90 yuan, ceiling 1.20
C_CODE = "003101000000300"  # class C, 300 yuan


@pytest.fixture
def cashier(client_for: Callable[..., httpx.Client]) -> httpx.Client:
    return client_for(facility="H001", purpose="HPAYMT")


def _coverage(api: httpx.Client, patient: str, balance_fen: int = 5_000) -> str:
    body = coverage_resource(patient, Scheme.UEBMI, "420502", balance_fen, uuid.uuid4().hex)
    created = api.post("/Coverage", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _claim(patient: str, coverage: str, use: str, items: list[tuple[str, int, float]]) -> Any:
    return {
        "resourceType": "Claim",
        "identifier": [{"system": "urn:test:his", "value": uuid.uuid4().hex}],
        "status": "active",
        "type": {"coding": [{"code": "professional"}]},
        "use": use,
        "patient": {"reference": f"Patient/{patient}"},
        "created": "2026-03-01",
        "provider": {"reference": "Organization/H001"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [
            {"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{coverage}"}}
        ],
        "item": [
            {
                "sequence": n,
                "productOrService": {"coding": [{"code": code}]},
                "quantity": {"value": quantity},
                "unitPrice": {"value": price, "currency": "CNY"},
            }
            for n, (code, quantity, price) in enumerate(items, start=1)
        ],
    }


def _total(response: dict[str, Any], code: str) -> float:
    found = [t for t in response["total"] if t["category"]["coding"][0]["code"] == code]
    return float(found[0]["amount"]["value"])


def _left(cashier: httpx.Client, patient: str, coverage: str) -> dict[str, float]:
    request = {
        "resourceType": "CoverageEligibilityRequest",
        "status": "active",
        "purpose": ["benefits"],
        "patient": {"reference": f"Patient/{patient}"},
        "insurance": [{"coverage": {"reference": f"Coverage/{coverage}"}}],
    }
    answer = cashier.post("/CoverageEligibilityRequest/$submit", json=request)
    assert answer.status_code == 200, answer.text
    benefits = answer.json()["insurance"][0]["item"][0]["benefit"]
    return {b["type"]["coding"][0]["code"]: b["allowedMoney"]["value"] for b in benefits}


def test_pre_settle_settle_retry_reverse(api: httpx.Client, cashier: httpx.Client) -> None:
    patient = new_patient(api)
    coverage = _coverage(api, patient, balance_fen=5_000)
    before = _left(cashier, patient, coverage)
    assert before["account-balance"] == 50.0

    items = [(A_CODE, 1, 10.0), (B_CODE, 10, 0.9), (C_CODE, 1, 300.0)]
    preview = cashier.post(
        "/Claim/$submit", json=_claim(patient, coverage, "predetermination", items)
    )
    assert preview.status_code == 200, preview.text
    assert _total(preview.json(), "submitted") == 319.0
    assert len(preview.json()["item"][0]["adjudication"]) >= 5
    assert _left(cashier, patient, coverage) == before  # nothing committed

    claim = _claim(patient, coverage, "claim", items)
    settled = cashier.post("/Claim/$submit", json=claim)
    assert settled.status_code == 201, settled.text
    body = settled.json()
    parts = _total(body, "benefit") + _total(body, "account") + _total(body, "cash")
    assert round(parts, 2) == 319.0
    assert body["extension"][0]["valueCoding"]["code"]
    after = _left(cashier, patient, coverage)
    assert after["account-balance"] == round(50.0 - _total(body, "account"), 2)

    retry = cashier.post("/Claim/$submit", json=claim)
    assert retry.status_code == 200 and retry.json() == body  # the first answer, once
    assert _left(cashier, patient, coverage) == after
    changed = dict(claim, item=claim["item"][:1])
    assert cashier.post("/Claim/$submit", json=changed).status_code == 409

    claim_id = body["request"]["reference"].removeprefix("Claim/")
    eob = api.get("/ExplanationOfBenefit", params={"patient": f"Patient/{patient}"})
    assert eob.status_code == 200 and eob.json()["total"] == 1

    reversed_ = cashier.post(f"/Claim/{claim_id}/$cancel")
    assert reversed_.status_code == 200, reversed_.text
    assert _left(cashier, patient, coverage) == before  # restored exactly
    assert cashier.post(f"/Claim/{claim_id}/$cancel").status_code == 409


def test_refusals_move_no_accumulator(
    api: httpx.Client, cashier: httpx.Client, client_for: Callable[..., httpx.Client]
) -> None:
    patient = new_patient(api)
    coverage = _coverage(api, patient)
    before = _left(cashier, patient, coverage)

    def refused(claim: Any, status: int, client: httpx.Client = cashier) -> None:
        answer = client.post("/Claim/$submit", json=claim)
        assert answer.status_code == status, answer.text
        assert answer.json()["resourceType"] == "OperationOutcome"

    refused(_claim(patient, coverage, "claim", [("NOT-A-CODE", 1, 1.0)]), 422)
    refused(_claim(patient, coverage, "claim", [(A_CODE, 1, 10.01)]), 422)  # over the ceiling
    someone_else = new_patient(api)
    refused(_claim(someone_else, coverage, "claim", [(A_CODE, 1, 10.0)]), 422)  # forged
    refused(_claim(patient, "no-such-coverage", "claim", [(A_CODE, 1, 10.0)]), 404)
    treating = client_for(facility="H001")  # purpose TREAT: not a settlement
    refused(_claim(patient, coverage, "claim", [(A_CODE, 1, 10.0)]), 403, treating)
    assert _left(cashier, patient, coverage) == before

    settled = cashier.post(
        "/Claim/$submit", json=_claim(patient, coverage, "claim", [(A_CODE, 1, 10.0)])
    )
    assert settled.status_code == 201, settled.text
    claim_id = settled.json()["request"]["reference"].removeprefix("Claim/")
    other = client_for(facility="H002", purpose="HPAYMT")
    assert other.post(f"/Claim/{claim_id}/$cancel").status_code == 403
