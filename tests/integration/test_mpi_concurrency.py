"""Two facilities registering the same new person at the same moment end with one person, not two.

Real concurrency against the live hub: for each of ``PEOPLE`` new people, ``FACILITIES`` threads
(one token per facility) wait on a barrier and then POST their own registration of that person
(same resident ID, name and birth date; each its own local number) at once. The registrations
meet in ``lock_keys`` (advisory locks on the shared blocking keys), so the hub runs on
PostgreSQL (``tests.postgres``) whatever the run's database: SQLite serialises writers and would
pass without the locks. Each person must end with exactly one enterprise id, checked through
PIXm and in the database.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from hub.fhir.systems import ENTERPRISE_ID_SYSTEM, RESIDENT_ID_SYSTEM, facility_patient_system
from hub.mpi.matching.identifiers import make_resident_id
from tests.postgres import PostgresHub

FACILITIES = ("H001", "H002", "CS0001", "CS0002", "PH001", "PH002", "H003", "CS0003")
PEOPLE = 20
FAMILIES = ("欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容", "尉迟", "长孙")
GIVENS = ("晓岚", "子涵", "若曦", "浩然", "思远", "嘉怡", "梓萱", "俊杰", "雨桐", "一鸣")


@dataclass(frozen=True)
class NewPerson:
    family: str
    given: str
    birth: date
    resident_id: str
    tag: str

    def registration(self, facility: str) -> dict[str, Any]:
        return {
            "resourceType": "Patient",
            "identifier": [
                {"system": facility_patient_system(facility), "value": self.local(facility)},
                {"system": RESIDENT_ID_SYSTEM, "value": self.resident_id},
            ],
            "name": [{"family": self.family, "given": [self.given]}],
            "gender": "female",
            "birthDate": self.birth.isoformat(),
        }

    def local(self, facility: str) -> str:
        return f"{facility}-{self.tag}"


@pytest.fixture(scope="module")
def clients(postgres_live_hub: PostgresHub) -> Iterator[dict[str, httpx.Client]]:
    hub, make_token = postgres_live_hub.hub, postgres_live_hub.make_token
    made = {
        f: httpx.Client(
            base_url=hub.fhir_url,
            headers={"Authorization": f"Bearer {make_token(facility=f)}"},
            timeout=60,
        )
        for f in FACILITIES
    }
    yield made
    for client in made.values():
        client.close()


def _people(rng: random.Random) -> list[NewPerson]:
    people = []
    for i in range(PEOPLE):
        birth = date(rng.randint(1930, 2015), rng.randint(1, 12), rng.randint(1, 28))
        people.append(
            NewPerson(
                family=FAMILIES[i % len(FAMILIES)],
                given=GIVENS[rng.randrange(len(GIVENS))],
                birth=birth,
                resident_id=make_resident_id("420506", birth, rng.randrange(1, 999), "female"),
                tag=f"{rng.randrange(10**10):010d}",
            )
        )
    return people


def _register_at_once(
    clients: dict[str, httpx.Client], person: NewPerson
) -> tuple[list[int], bool]:
    """Statuses of the simultaneous POSTs, and whether any two were in flight together."""
    barrier = threading.Barrier(len(FACILITIES))

    def post(facility: str) -> tuple[int, float, float]:
        body = person.registration(facility)
        barrier.wait(timeout=30)
        start = time.monotonic()
        status = clients[facility].post("/Patient", json=body).status_code
        return status, start, time.monotonic()

    with ThreadPoolExecutor(max_workers=len(FACILITIES)) as pool:
        results = list(pool.map(post, FACILITIES))
    windows = sorted((start, end) for _, start, end in results)
    overlapped = any(later[0] < earlier[1] for earlier, later in pairwise(windows))
    return [status for status, _, _ in results], overlapped


def test_simultaneous_registrations_make_one_person(
    clients: dict[str, httpx.Client], postgres_database: str
) -> None:
    people = _people(random.Random())
    overlapping_rounds = 0
    for person in people:
        statuses, overlapped = _register_at_once(clients, person)
        assert statuses == [201] * len(FACILITIES), statuses
        overlapping_rounds += overlapped
    assert overlapping_rounds >= PEOPLE // 2  # the requests really were concurrent

    pix = clients["H001"]
    for person in people:
        response = pix.get(
            "/Patient/$ihe-pix",
            params={"sourceIdentifier": f"{RESIDENT_ID_SYSTEM}|{person.resident_id}"},
        )
        assert response.status_code == 200, response.text  # 409 if two persons held the ID
        found = [
            (p["valueIdentifier"]["system"], p["valueIdentifier"]["value"])
            for p in response.json()["parameter"]
            if p["name"] == "targetIdentifier"
        ]
        assert [s for s, _ in found].count(ENTERPRISE_ID_SYSTEM) == 1
        for facility in FACILITIES:
            assert (facility_patient_system(facility), person.local(facility)) in found

    engine = sa.create_engine(postgres_database)
    try:
        with engine.connect() as conn:
            for person in people:
                persons = conn.execute(
                    sa.text(
                        "SELECT COUNT(DISTINCT person_id), COUNT(*) FROM mpi_source "
                        "WHERE source_id LIKE :tag"
                    ),
                    {"tag": f"%-{person.tag}"},
                ).one()
                assert tuple(persons) == (1, len(FACILITIES))
    finally:
        engine.dispose()
