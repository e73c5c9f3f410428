"""The settlement guarantee under real concurrency, on PostgreSQL (SQLite serialises writers and
would prove nothing): cashiers settling for the same person at once, one Claim identifier sent
many times at once, settlements and reversals racing. The database's accumulators must equal
what the ledger entries add up to, the deductible and cap what a sequential order gives."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from insurance.policy import Scheme, load_policy
from insurance.resources import coverage_resource
from tests.integration.booking_helpers import new_patient
from tests.integration.insurance_books import books as _books
from tests.postgres import PostgresHub

CASHIERS = 8
RITUXIMAB = "XL01XCR096B002010100004"  # class B, ceiling 1,500 yuan: a few claims reach the cap
CONSULTATION = "001102000000100"  # class A, 10 yuan
LEVEL_OF_H001 = 3


@pytest.fixture(scope="module")
def pg_clients(postgres_live_hub: PostgresHub) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """(an administrating facility system, a cashier with purpose HPAYMT) on PostgreSQL."""
    clients = []
    for purpose in (None, "HPAYMT"):
        token = postgres_live_hub.make_token(purpose=purpose)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
        url = postgres_live_hub.hub.fhir_url
        clients.append(httpx.Client(base_url=url, headers=headers, timeout=120))
    if clients[0].get("/Organization/H001").status_code == 404:  # a hub without the registry
        facility = {"resourceType": "Organization", "id": "H001", "name": "H001"}
        assert clients[0].put("/Organization/H001", json=facility).status_code in (200, 201)
    yield clients[0], clients[1]
    for client in clients:
        client.close()


def _insured(api: httpx.Client, scheme: Scheme, balance_fen: int) -> tuple[str, str]:
    patient = new_patient(api)
    body = coverage_resource(patient, scheme, "420502", balance_fen, uuid.uuid4().hex)
    created = api.post("/Coverage", json=body)
    assert created.status_code == 201, created.text
    return patient, str(created.json()["id"])


def _claim(patient: str, coverage: str, code: str, quantity: int, price: float) -> dict[str, Any]:
    return {
        "resourceType": "Claim",
        "identifier": [{"system": "urn:test:race", "value": uuid.uuid4().hex}],
        "status": "active",
        "type": {"coding": [{"code": "professional"}]},
        "use": "claim",
        "patient": {"reference": f"Patient/{patient}"},
        "created": "2026-03-01",
        "provider": {"reference": "Organization/H001"},
        "priority": {"coding": [{"code": "normal"}]},
        "insurance": [
            {"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/{coverage}"}}
        ],
        "item": [
            {
                "sequence": 1,
                "productOrService": {"coding": [{"code": code}]},
                "quantity": {"value": quantity},
                "unitPrice": {"value": price, "currency": "CNY"},
            }
        ],
    }


def _post_all(cashier: httpx.Client, calls: list[tuple[str, Any]]) -> list[httpx.Response]:
    def post(call: tuple[str, Any]) -> httpx.Response:
        path, body = call
        return cashier.post(path, json=body)

    with ThreadPoolExecutor(CASHIERS) as pool:
        return list(pool.map(post, calls))


def _benefit(scheme: Scheme) -> tuple[int, int]:
    """(deductible, annual cap) of ``scheme`` at H001's level in the policy in force."""
    from datetime import date

    benefit = load_policy().on(date.today()).benefit(scheme, LEVEL_OF_H001)
    assert benefit is not None
    return benefit.deductible_fen, benefit.annual_cap_fen


def test_cashiers_settling_for_one_person_at_once_keep_exact_accumulators(
    pg_clients: tuple[httpx.Client, httpx.Client], postgres_database: str
) -> None:
    api, cashier = pg_clients
    opening = 5_000
    patient, coverage = _insured(api, Scheme.URRBMI, opening)
    claims = [_claim(patient, coverage, RITUXIMAB, 50, 1500.0) for _ in range(CASHIERS)]
    answers = _post_all(cashier, [("/Claim/$submit", claim) for claim in claims])
    assert [a.status_code for a in answers] == [201] * CASHIERS, [a.text for a in answers]

    (deductible, fund, balance), (led_deductible, led_fund, led_account), count = _books(
        postgres_database, patient
    )
    assert count == CASHIERS
    assert (deductible, fund, opening - balance) == (led_deductible, led_fund, led_account)
    plan_deductible, plan_cap = _benefit(Scheme.URRBMI)
    # Sequentially: the first claim uses the whole deductible, the claims together pass the cap.
    assert deductible == plan_deductible
    assert fund == plan_cap  # reached, never exceeded
    assert balance == 0  # the account paid what it held, once


def test_one_claim_identifier_sent_at_once_settles_once(
    pg_clients: tuple[httpx.Client, httpx.Client], postgres_database: str
) -> None:
    api, cashier = pg_clients
    patient, coverage = _insured(api, Scheme.UEBMI, 2_000)
    claim = _claim(patient, coverage, CONSULTATION, 1, 10.0)
    answers = _post_all(cashier, [("/Claim/$submit", claim)] * 16)
    statuses = Counter(a.status_code for a in answers)
    assert statuses == Counter({201: 1, 200: 15}), [a.text for a in answers]
    assert len({a.content for a in answers}) == 1  # every caller got the first answer
    accumulator, ledger, count = _books(postgres_database, patient)
    assert count == 1
    assert (accumulator[0], accumulator[1], 2_000 - accumulator[2]) == ledger


def test_settle_and_reverse_racing_leave_the_ledger_exact(
    pg_clients: tuple[httpx.Client, httpx.Client], postgres_database: str
) -> None:
    api, cashier = pg_clients
    opening = 100_000
    patient, coverage = _insured(api, Scheme.UEBMI, opening)
    first = cashier.post("/Claim/$submit", json=_claim(patient, coverage, RITUXIMAB, 1, 1500.0))
    assert first.status_code == 201, first.text
    claim_id = first.json()["request"]["reference"].removeprefix("Claim/")

    cancels: list[tuple[str, Any]] = [(f"/Claim/{claim_id}/$cancel", None)] * 4
    settles: list[tuple[str, Any]] = [
        ("/Claim/$submit", _claim(patient, coverage, RITUXIMAB, 1, 1500.0)) for _ in range(4)
    ]
    answers = _post_all(cashier, [c for pair in zip(cancels, settles, strict=True) for c in pair])
    cancel_statuses = Counter(a.status_code for a in answers[0::2])
    assert cancel_statuses == Counter({200: 1, 409: 3}), [a.text for a in answers[0::2]]
    assert all(a.status_code == 201 for a in answers[1::2]), [a.text for a in answers[1::2]]

    accumulator, ledger, count = _books(postgres_database, patient)
    assert count == 5
    assert (accumulator[0], accumulator[1], opening - accumulator[2]) == ledger
    plan_deductible, plan_cap = _benefit(Scheme.UEBMI)
    assert 0 <= accumulator[0] <= plan_deductible and 0 <= accumulator[1] <= plan_cap
