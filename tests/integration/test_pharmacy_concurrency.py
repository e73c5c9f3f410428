"""The prescription's total under real concurrency, on PostgreSQL (SQLite serialises writers
and would prove nothing): pharmacies dispensing the last units of one prescription at once.
Exactly what the prescription allows is dispensed; every other dispense is refused with 409 and
leaves no trace; the ledger's remaining units equal what the completed dispenses left. And one
dispense claimed under several Claim identifiers at once is settled once."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from insurance.policy import Scheme
from insurance.resources import coverage_resource
from tests.integration.booking_helpers import new_patient
from tests.integration.insurance_books import books
from tests.integration.pharmacy_helpers import (
    OTHER_PHARMACY,
    PHARMACY,
    dispense_body,
    dispense_claim,
    ensure_organizations,
    payment_consent,
    prescribe,
)
from tests.postgres import PostgresHub

PHARMACIES = 8  # dispensing at once, each as its own facility's system
PHARMACY_CODES = [PHARMACY, OTHER_PHARMACY, *(f"PH{n:03d}" for n in range(3, PHARMACIES + 1))]


@pytest.fixture(scope="module")
def pg(postgres_live_hub: PostgresHub) -> Iterator[tuple[httpx.Client, list[httpx.Client]]]:
    """(the hospital H001, one client per pharmacy) on PostgreSQL."""

    def client(facility: str) -> httpx.Client:
        token = postgres_live_hub.make_token(facility=facility)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
        return httpx.Client(base_url=postgres_live_hub.hub.fhir_url, headers=headers, timeout=120)

    hospital = client("H001")
    ensure_organizations(hospital, "H001", *PHARMACY_CODES)
    pharmacies = [client(code) for code in PHARMACY_CODES]
    yield hospital, pharmacies
    for each in (hospital, *pharmacies):
        each.close()


def _at_once(calls: list[tuple[httpx.Client, dict[str, object]]]) -> list[httpx.Response]:
    start = threading.Barrier(len(calls))

    def post(call: tuple[httpx.Client, dict[str, object]]) -> httpx.Response:
        client, body = call
        start.wait()
        return client.post("/MedicationDispense", json=body)

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(post, calls))


def _ledger(url: str, prescription: str) -> tuple[int, int, int]:
    """(remaining in the ledger, the sum its dispenses count, completed dispenses stored)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            remaining = connection.execute(
                sa.text(
                    "SELECT remaining FROM pharmacy_prescription_supply WHERE prescription_id = :p"
                ),
                {"p": prescription},
            ).scalar_one()
            counted = connection.execute(
                sa.text(
                    "SELECT coalesce(sum(quantity), 0) FROM pharmacy_dispense_count"
                    " WHERE prescription_id = :p"
                ),
                {"p": prescription},
            ).scalar_one()
            stored = connection.execute(
                sa.text(
                    "SELECT count(*) FROM fhir_resource WHERE resource_type = 'MedicationDispense'"
                    " AND NOT deleted AND content::jsonb -> 'authorizingPrescription' -> 0"
                    " ->> 'reference' = :r AND content::jsonb ->> 'status' = 'completed'"
                ),
                {"r": f"MedicationRequest/{prescription}"},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(remaining), int(counted), int(stored)


@pytest.mark.parametrize("round_", range(3))
def test_pharmacies_dispensing_the_last_units_at_once_dispense_exactly_the_prescription(
    pg: tuple[httpx.Client, list[httpx.Client]], postgres_database: str, round_: int
) -> None:
    hospital, pharmacies = pg
    patient = new_patient(hospital)
    rx = prescribe(hospital, patient, quantity=10, repeats=2, pharmacy=None)  # 30 in all
    answers = _at_once([(p, dispense_body(rx, patient, 10)) for p in pharmacies])

    statuses = Counter(a.status_code for a in answers)
    assert statuses == Counter({201: 3, 409: PHARMACIES - 3}), [a.text for a in answers]
    assert all("more than prescribed" in a.text for a in answers if a.status_code == 409)
    assert _ledger(postgres_database, rx) == (0, 30, 3)


def test_a_cancellation_racing_new_dispenses_gives_back_exactly_once(
    pg: tuple[httpx.Client, list[httpx.Client]], postgres_database: str
) -> None:
    hospital, pharmacies = pg
    patient = new_patient(hospital)
    rx = prescribe(hospital, patient, quantity=20, pharmacy=None)
    first = pharmacies[0].post("/MedicationDispense", json=dispense_body(rx, patient, 20))
    assert first.status_code == 201, first.text
    cancelled = first.json() | {"status": "entered-in-error"}
    start = threading.Barrier(PHARMACIES)

    def act(index: int) -> httpx.Response:
        start.wait()
        if index == 0:  # the dispensing pharmacy takes its 20 back; the others want 5 each
            return pharmacies[0].put(f"/MedicationDispense/{cancelled['id']}", json=cancelled)
        return pharmacies[index].post("/MedicationDispense", json=dispense_body(rx, patient, 5))

    with ThreadPoolExecutor(PHARMACIES) as pool:
        answers = list(pool.map(act, range(PHARMACIES)))
    assert answers[0].status_code == 200, answers[0].text
    taken = sum(1 for a in answers[1:] if a.status_code == 201)
    assert all(a.status_code in (201, 409) for a in answers[1:]), [a.text for a in answers]
    assert taken <= 4  # 20 units at most, whatever the order
    remaining, counted, stored = _ledger(postgres_database, rx)
    assert (remaining, counted, stored) == (20 - 5 * taken, 5 * taken, taken)


def test_one_dispense_claimed_under_several_identifiers_at_once_settles_once(
    pg: tuple[httpx.Client, list[httpx.Client]],
    postgres_live_hub: PostgresHub,
    postgres_database: str,
) -> None:
    hospital, pharmacies = pg
    patient = new_patient(hospital)
    coverage = hospital.post(
        "/Coverage",
        json=coverage_resource(patient, Scheme.UEBMI, "420502", 5_000, uuid.uuid4().hex),
    )
    assert coverage.status_code == 201, coverage.text
    payment_consent(hospital, patient)
    rx = prescribe(hospital, patient, quantity=10)  # addressed to PH001, pharmacies[0]
    dispensed = pharmacies[0].post("/MedicationDispense", json=dispense_body(rx, patient, 10))
    assert dispensed.status_code == 201, dispensed.text
    token = postgres_live_hub.make_token(facility=PHARMACY, purpose="HPAYMT")
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    claims = [
        dispense_claim(
            patient, str(coverage.json()["id"]), [(dispensed.json()["id"], 10)], uuid.uuid4().hex
        )
        for _ in range(4)
    ]
    start = threading.Barrier(len(claims))
    with httpx.Client(
        base_url=postgres_live_hub.hub.fhir_url, headers=headers, timeout=120
    ) as cashier:

        def submit(claim: dict[str, object]) -> httpx.Response:
            start.wait()
            return cashier.post("/Claim/$submit", json=claim)

        with ThreadPoolExecutor(len(claims)) as pool:
            answers = list(pool.map(submit, claims))
    statuses = Counter(a.status_code for a in answers)
    assert statuses == Counter({201: 1, 409: 3}), [a.text for a in answers]
    assert all("settled already" in a.text for a in answers if a.status_code == 409)
    (deductible, fund, balance), ledger, settlements = books(postgres_database, patient)
    assert settlements == 1  # the losers' settlements rolled back with them
    assert (deductible, fund, 5_000 - balance) == ledger
