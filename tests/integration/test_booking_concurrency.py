"""The booking guarantee under real concurrency, on PostgreSQL (SQLite serialises writers and
would prove nothing): many clients at once against one slot over HTTP, and the database's
count must equal its capacity, one place per person, one result per idempotency key."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from tests.integration.booking_helpers import appointment, new_patient, new_slot
from tests.postgres import PostgresHub

WORKERS = 16


@pytest.fixture(scope="module")
def pg_api(postgres_live_hub: PostgresHub) -> Iterator[httpx.Client]:
    token = postgres_live_hub.make_token()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=postgres_live_hub.hub.fhir_url, headers=headers, timeout=60) as c:
        yield c


def _ledger(url: str, slot: str) -> tuple[int, int, int]:
    """(counter, active places, distinct persons among them) straight from the database."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            counter = connection.execute(
                sa.text("SELECT booked FROM booking_slot_capacity WHERE slot_id = :s"), {"s": slot}
            ).scalar_one()
            active, persons = connection.execute(
                sa.text(
                    "SELECT count(*), count(DISTINCT person_key) FROM booking_place "
                    "WHERE slot_id = :s AND state IN ('held', 'booked')"
                ),
                {"s": slot},
            ).one()
    finally:
        engine.dispose()
    return int(counter), int(active), int(persons)


def _hammer(api: httpx.Client, bodies: list[dict[str, object]]) -> Counter[int]:
    def post(body: dict[str, object]) -> int:
        return api.post("/Appointment", json=body).status_code

    with ThreadPoolExecutor(WORKERS) as pool:
        return Counter(pool.map(post, bodies))


def test_never_more_bookings_than_capacity(pg_api: httpx.Client, postgres_database: str) -> None:
    slot = new_slot(pg_api, capacity=5)
    patients = [new_patient(pg_api) for _ in range(24)]
    statuses = _hammer(pg_api, [appointment(slot, p) for p in patients for _ in range(2)])
    assert statuses[201] == 5, statuses
    assert set(statuses) <= {201, 409}, statuses
    assert _ledger(postgres_database, slot) == (5, 5, 5)


def test_one_person_one_place_and_one_result_per_key(
    pg_api: httpx.Client, postgres_database: str
) -> None:
    slot = new_slot(pg_api, capacity=50)
    same_person = new_patient(pg_api)
    statuses = _hammer(pg_api, [appointment(slot, same_person) for _ in range(20)])
    assert statuses[201] == 1 and set(statuses) <= {201, 409}, statuses
    retried = new_patient(pg_api)
    body = appointment(slot, retried, key=f"surge-{slot}")
    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(
            pool.map(
                lambda _: pg_api.post(
                    "/Appointment/$book",
                    json={
                        "resourceType": "Parameters",
                        "parameter": [{"name": "appointment-resource", "resource": body}],
                    },
                ),
                range(20),
            )
        )
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1  # every retry got the first result
    assert sum(a.status_code == 201 for a in answers) == 1
    assert _ledger(postgres_database, slot) == (2, 2, 2)
