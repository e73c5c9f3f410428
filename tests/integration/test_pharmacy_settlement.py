"""处方流转 over HTTP: a hospital's prescription reaches a designated pharmacy through the hub;
the pharmacy finds it, dispenses against it (never more than prescribed), and settles its
dispenses through FHIR Claim/$submit and through the national 2204/2206/2207 path, the
ClaimResponse naming the dispenses; and every way of dispensing what is not the pharmacy's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from insurance.pharmacy.rules import EXT_DISPENSE
from insurance.policy import Scheme
from insurance.resources import coverage_resource
from tests.integration.booking_helpers import new_patient
from tests.integration.national_helpers import His, insured_person
from tests.integration.pharmacy_helpers import (
    DRUG,
    OTHER_DRUG,
    OTHER_PHARMACY,
    PHARMACY,
    dispense_body,
    dispense_claim,
    ensure_organizations,
    payment_consent,
    prescribe,
)
from tests.live import LiveHub

ClientFactory = Callable[..., httpx.Client]


@pytest.fixture
def pharmacy(client_for: ClientFactory, api: httpx.Client) -> httpx.Client:
    ensure_organizations(api, PHARMACY, OTHER_PHARMACY)
    return client_for(facility=PHARMACY)


def _dispense(client: httpx.Client, body: dict[str, Any], status: int = 201) -> str:
    response = client.post("/MedicationDispense", json=body)
    assert response.status_code == status, response.text
    return str(response.json().get("id", ""))


def _ids(bundle: httpx.Response) -> set[str]:
    assert bundle.status_code == 200, bundle.text
    return {e["resource"]["id"] for e in bundle.json().get("entry") or []}


def test_a_pharmacy_finds_the_prescriptions_addressed_to_it_or_to_any_pharmacy(
    api: httpx.Client, pharmacy: httpx.Client, client_for: ClientFactory
) -> None:
    patient = new_patient(api)
    mine = prescribe(api, patient, quantity=10)
    anyone = prescribe(api, patient, quantity=10, pharmacy=None)
    theirs = prescribe(api, patient, quantity=10, pharmacy=OTHER_PHARMACY)
    subject = {"subject": f"Patient/{patient}", "status": "active"}
    addressed = pharmacy.get(
        "/MedicationRequest", params={**subject, "dispense-performer": f"Organization/{PHARMACY}"}
    )
    assert _ids(addressed) == {mine}
    open_ = pharmacy.get(
        "/MedicationRequest", params={**subject, "dispense-performer:missing": "true"}
    )
    assert _ids(open_) == {anyone}
    other = client_for(facility=OTHER_PHARMACY)
    to_other = {**subject, "dispense-performer": f"Organization/{OTHER_PHARMACY}"}
    assert _ids(other.get("/MedicationRequest", params=to_other)) == {theirs}


def test_dispensing_never_exceeds_the_prescription_and_a_cancelled_dispense_gives_back(
    api: httpx.Client, pharmacy: httpx.Client
) -> None:
    patient = new_patient(api)
    rx = prescribe(api, patient, quantity=20, repeats=1)  # 40 tablets in all
    first = _dispense(pharmacy, dispense_body(rx, patient, 30))
    refused = pharmacy.post("/MedicationDispense", json=dispense_body(rx, patient, 15))
    assert refused.status_code == 409, refused.text
    assert "more than prescribed" in refused.text and "10 left" in refused.text
    _dispense(pharmacy, dispense_body(rx, patient, 10))
    _dispense(pharmacy, dispense_body(rx, patient, 1), status=409)  # none left
    # Not counted until completed: a dispense in preparation takes nothing.
    _dispense(pharmacy, dispense_body(rx, patient, 5, status="preparation"))

    stored = pharmacy.get(f"/MedicationDispense/{first}").json()
    cancelled = pharmacy.put(
        f"/MedicationDispense/{first}", json=stored | {"status": "entered-in-error"}
    )
    assert cancelled.status_code == 200, cancelled.text
    _dispense(pharmacy, dispense_body(rx, patient, 31), status=409)
    again = _dispense(pharmacy, dispense_body(rx, patient, 30))  # the 30 given back, taken
    assert pharmacy.delete(f"/MedicationDispense/{again}").status_code in (200, 204)
    last = _dispense(pharmacy, dispense_body(rx, patient, 30))  # a deleted one gives back too

    # The hospital cancels the prescription: nothing more is dispensed, but a dispense is still
    # given back (and the units it frees stay undispensable).
    current = api.get(f"/MedicationRequest/{rx}").json()
    assert api.put(f"/MedicationRequest/{rx}", json=current | {"status": "cancelled"}).is_success
    stopped = pharmacy.post("/MedicationDispense", json=dispense_body(rx, patient, 1))
    assert stopped.status_code == 422 and "not active" in stopped.text
    stored = pharmacy.get(f"/MedicationDispense/{last}").json()
    undone = pharmacy.put(f"/MedicationDispense/{last}", json=stored | {"status": "cancelled"})
    assert undone.status_code == 200, undone.text
    _dispense(pharmacy, dispense_body(rx, patient, 1), status=422)


def test_a_pharmacy_dispenses_only_what_is_its_own_to_dispense(
    api: httpx.Client, pharmacy: httpx.Client, client_for: ClientFactory
) -> None:
    patient, stranger = new_patient(api), new_patient(api)
    rx = prescribe(api, patient, quantity=20)
    other = client_for(facility=OTHER_PHARMACY)
    not_addressed = other.post("/MedicationDispense", json=dispense_body(rx, patient, 5))
    assert not_addressed.status_code == 403, not_addressed.text
    assert "addressed to another pharmacy" in not_addressed.text
    other_patient = pharmacy.post("/MedicationDispense", json=dispense_body(rx, stranger, 5))
    assert other_patient.status_code == 422 and "another patient" in other_patient.text
    other_drug = pharmacy.post(
        "/MedicationDispense", json=dispense_body(rx, patient, 5, code=OTHER_DRUG)
    )
    assert other_drug.status_code == 422 and "medication" in other_drug.text
    forged = pharmacy.post("/MedicationDispense", json=dispense_body(uuid.uuid4().hex, patient, 5))
    # The store refuses a reference to nothing before the hook is asked.
    assert forged.status_code == 400 and "does not exist" in forged.text, forged.text
    # A dispense moved to another prescription after it was counted is refused.
    taken = _dispense(pharmacy, dispense_body(rx, patient, 5))
    elsewhere = prescribe(api, patient, quantity=20)
    moved = pharmacy.get(f"/MedicationDispense/{taken}").json() | {
        "authorizingPrescription": [{"reference": f"MedicationRequest/{elsewhere}"}]
    }
    assert pharmacy.put(f"/MedicationDispense/{taken}", json=moved).status_code == 422
    unlinked = {k: v for k, v in moved.items() if k != "authorizingPrescription"}
    assert pharmacy.put(f"/MedicationDispense/{taken}", json=unlinked).status_code == 422
    # After all the refusals, the prescription still has its 15 left: nothing was counted.
    _dispense(pharmacy, dispense_body(rx, patient, 16), status=409)
    _dispense(pharmacy, dispense_body(rx, patient, 15))


def _settling_pharmacy(
    api: httpx.Client, client_for: ClientFactory
) -> tuple[str, str, httpx.Client, httpx.Client]:
    """(patient, coverage, the pharmacy's TREAT client, its cashier with purpose HPAYMT)."""
    ensure_organizations(api, PHARMACY, OTHER_PHARMACY)
    patient = new_patient(api)
    coverage = _coverage(api, patient, 5_000)
    payment_consent(api, patient)
    dispensing = client_for(facility=PHARMACY)
    cashier = client_for(facility=PHARMACY, purpose="HPAYMT")
    return patient, coverage, dispensing, cashier


def _coverage(api: httpx.Client, patient: str, balance_fen: int) -> str:
    body = coverage_resource(patient, Scheme.UEBMI, "420502", balance_fen, uuid.uuid4().hex)
    created = api.post("/Coverage", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_a_pharmacy_settles_its_dispenses_once_and_a_reversal_frees_them(
    api: httpx.Client, client_for: ClientFactory
) -> None:
    patient, coverage, dispensing, cashier = _settling_pharmacy(api, client_for)
    rx = prescribe(api, patient, quantity=30)
    first = _dispense(dispensing, dispense_body(rx, patient, 20))
    second = _dispense(dispensing, dispense_body(rx, patient, 10))
    claim = dispense_claim(patient, coverage, [(first, 20), (second, 10)], uuid.uuid4().hex)

    preview = cashier.post("/Claim/$submit", json=claim | {"use": "predetermination"})
    assert preview.status_code == 200, preview.text
    settled = cashier.post("/Claim/$submit", json=claim)
    assert settled.status_code == 201, settled.text
    answer = settled.json()
    named = [e["valueReference"]["reference"] for i in answer["item"] for e in i["extension"]
             if e["url"] == EXT_DISPENSE]  # fmt: skip
    assert named == [f"MedicationDispense/{first}", f"MedicationDispense/{second}"]
    total = {t["category"]["coding"][0]["code"]: t["amount"]["value"] for t in answer["total"]}
    assert total["submitted"] == 27.0  # 30 x 0.90 yuan

    again = dispense_claim(patient, coverage, [(first, 20)], uuid.uuid4().hex)
    twice = cashier.post("/Claim/$submit", json=again)
    assert twice.status_code == 409 and "settled already" in twice.text
    stored = dispensing.get(f"/MedicationDispense/{first}").json()
    locked = dispensing.put(
        f"/MedicationDispense/{first}", json=stored | {"status": "entered-in-error"}
    )
    assert locked.status_code == 409 and "reverse its settlement" in locked.text

    claim_id = answer["request"]["reference"].removeprefix("Claim/")
    assert cashier.post(f"/Claim/{claim_id}/$cancel").status_code == 200
    assert cashier.post("/Claim/$submit", json=again).status_code == 201  # freed, settled again


def test_a_claim_settles_only_the_pharmacys_own_matching_dispenses(
    api: httpx.Client, client_for: ClientFactory
) -> None:
    patient, coverage, dispensing, cashier = _settling_pharmacy(api, client_for)
    rx = prescribe(api, patient, quantity=30, pharmacy=None)
    mine = _dispense(dispensing, dispense_body(rx, patient, 10))
    wrong_quantity = dispense_claim(patient, coverage, [(mine, 9)], uuid.uuid4().hex)
    assert cashier.post("/Claim/$submit", json=wrong_quantity).status_code == 422
    theirs = _dispense(client_for(facility=OTHER_PHARMACY), dispense_body(rx, patient, 10))
    foreign = dispense_claim(patient, coverage, [(theirs, 10)], uuid.uuid4().hex)
    refused = cashier.post("/Claim/$submit", json=foreign)
    assert refused.status_code == 403 and "its own dispenses" in refused.text, refused.text
    stranger = new_patient(api)
    payment_consent(api, stranger)
    other_cov = _coverage(api, stranger, 0)
    other_patient = dispense_claim(stranger, other_cov, [(mine, 10)], uuid.uuid4().hex)
    refused = cashier.post("/Claim/$submit", json=other_patient)
    assert refused.status_code == 422 and "another patient" in refused.text


def test_a_pharmacy_settles_a_dispense_by_the_national_2204_2206_2207_path(
    api: httpx.Client, client_for: ClientFactory, live_hub: LiveHub
) -> None:
    patient, _, dispensing, cashier = _settling_pharmacy(api, client_for)
    psn = insured_person(api, patient, balance_fen=5_000)
    rx = prescribe(api, patient, quantity=10)
    dispensed = _dispense(dispensing, dispense_body(rx, patient, 10))
    his = His(cashier, live_hub.base_url, PHARMACY)
    mdtrt_id = his.register(psn)
    row = {
        "feedetl_sn": "1", "mdtrt_id": mdtrt_id, "psn_no": psn, "chrg_bchno": "B1",
        "rx_circ_flag": "1", "drord_no": dispensed, "fee_ocur_time": "2026-03-01 09:10:00",
        "med_list_codg": DRUG, "medins_list_codg": "LOCAL-1", "det_item_fee_sumamt": "9.00",
        "cnt": 10, "pric": "0.90",
    }  # fmt: skip
    his.call("2204", {"feedetail": [row]})
    data = His.settle_data(psn, mdtrt_id, "9.00")
    assert his.call("2206", data)["setlinfo"]["medfee_sumamt"] == 9.0
    info = his.call("2207", data)["setlinfo"]
    claim_response = cashier.get("/ClaimResponse", params={"request": f"Claim/{info['setl_id']}"})
    (found,) = [e["resource"] for e in claim_response.json()["entry"]]
    assert found["item"][0]["extension"] == [
        {"url": EXT_DISPENSE, "valueReference": {"reference": f"MedicationDispense/{dispensed}"}}
    ]
    # The same dispense billed again in another visit's batch is refused.
    second_visit = his.register(psn)
    his.call("2204", {"feedetail": [row | {"mdtrt_id": second_visit}]})
    refused = his.refused("2207", His.settle_data(psn, second_visit, "9.00"))
    assert "settled already" in refused
