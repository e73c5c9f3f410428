"""Two doctors of the receiving hospital accept the same referral at the same moment, on
PostgreSQL: exactly one wins (If-Match against the row version, under the row lock), the others
get 412 and the Task is accepted once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from hub.auth.roles import Role
from hub.region.facilities import load_facilities
from hub.region.facility_fhir import facility_to_location, facility_to_organization
from referral.directory import healthcare_services
from tests.integration.test_referral_workflow import (
    SOURCE,
    TARGET,
    _new_patient,
    _referral,
    _task_of,
)
from tests.postgres import PostgresHub

DOCTORS = 6


@pytest.fixture
def hub_clients(postgres_live_hub: PostgresHub) -> Iterator[dict[str, httpx.Client]]:
    hub, make_token = postgres_live_hub.hub, postgres_live_hub.make_token

    def client(**token: object) -> httpx.Client:
        headers = {"Authorization": f"Bearer {make_token(**token)}"}
        return httpx.Client(base_url=hub.fhir_url, headers=headers, timeout=60)

    clients = {
        "operator": client(role=Role.operator, facility="HUB"),
        SOURCE: client(role=Role.practitioner, facility=SOURCE),
        **{
            f"{TARGET}-{n}": client(role=Role.practitioner, facility=TARGET) for n in range(DOCTORS)
        },
    }
    yield clients
    for each in clients.values():
        each.close()


def _seed_facilities(operator: httpx.Client) -> None:
    """The two facilities and the target's departments, as ``hub seed`` writes them."""
    for facility in (f for f in load_facilities() if f.code in (SOURCE, TARGET)):
        resources = [facility_to_organization(facility), facility_to_location(facility)]
        for resource in [*resources, *healthcare_services(facility)]:
            response = operator.put(f"/{resource['resourceType']}/{resource['id']}", json=resource)
            assert response.status_code in (200, 201), response.text


def test_simultaneous_accepts_have_one_winner(hub_clients: dict[str, httpx.Client]) -> None:
    _seed_facilities(hub_clients["operator"])
    source = hub_clients[SOURCE]
    patient = _new_patient(source, SOURCE)
    created = source.post(
        "/ServiceRequest", json=_referral(patient, f"HealthcareService/{TARGET}-cardiology")
    )
    assert created.status_code == 201, created.text
    task = _task_of(source, created.json()["id"])
    body = {**task, "status": "accepted"}
    barrier = threading.Barrier(DOCTORS)

    def accept(n: int) -> int:
        doctor = hub_clients[f"{TARGET}-{n}"]
        barrier.wait()
        headers = {"If-Match": f'W/"{task["meta"]["versionId"]}"'}
        return doctor.put(f"/Task/{task['id']}", json=body, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=DOCTORS) as pool:
        statuses = sorted(pool.map(accept, range(DOCTORS)))
    assert statuses == [200] + [412] * (DOCTORS - 1)
    history = source.get(f"/Task/{task['id']}/_history").json()
    assert [e["resource"]["status"] for e in history["entry"]] == ["accepted", "requested"]
