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


def test_concurrent_retries_for_the_last_place_all_get_the_first_result(
    pg_api: httpx.Client, postgres_database: str
) -> None:
    """The slot's one place is taken by the first of the retries: the others find it full, and
    still answer with the first result, not slot-full (the check before the write leaves a used
    key to the ledger)."""
    slot = new_slot(pg_api, capacity=1)
    body = appointment(slot, new_patient(pg_api), key=f"last-{slot}")
    book = {"resourceType": "Parameters",
            "parameter": [{"name": "appointment-resource", "resource": body}]}  # fmt: skip
    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(lambda _: pg_api.post("/Appointment/$book", json=book), range(20)))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.status_code == 201 for a in answers) == 1
    others = _hammer(pg_api, [appointment(slot, new_patient(pg_api)) for _ in range(8)])
    assert others == Counter({409: 8}), others
    assert _ledger(postgres_database, slot) == (1, 1, 1)
