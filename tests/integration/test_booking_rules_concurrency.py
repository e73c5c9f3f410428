"""The fair-use limits and the waitlist under real concurrency, on PostgreSQL (SQLite serialises
writers and would prove nothing): one person's many simultaneous bookings pass the limits only
as far as the rules allow, and a freed place is offered to one person, once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import sqlalchemy as sa

from referral.scheduling.fair_use import load_fair_use_rules
from tests.integration.booking_helpers import appointment, new_patient, new_slot
from tests.integration.test_booking_rules import slot_beside
from tests.postgres import PostgresHub

WORKERS = 12


@pytest.fixture(scope="module")
def pg_api(postgres_live_hub: PostgresHub) -> Iterator[httpx.Client]:
    """An app's client of the hub on PostgreSQL (as in ``test_booking_concurrency``)."""
    token = postgres_live_hub.make_token()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"}
    with httpx.Client(base_url=postgres_live_hub.hub.fhir_url, headers=headers, timeout=60) as c:
        yield c


def _at_once(api: httpx.Client, calls: Sequence[tuple[str, str, object]]) -> list[httpx.Response]:
    def call(request: tuple[str, str, object]) -> httpx.Response:
        method, url, body = request
        return api.request(method, url, json=body)

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(call, calls))


def _active_places(url: str, patient_slots: list[str]) -> int:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            found = connection.execute(
                sa.text(
                    "SELECT count(*) FROM booking_place WHERE slot_id = ANY(:s) "
                    "AND state IN ('held', 'booked')"
                ),
                {"s": patient_slots},
            ).scalar_one()
    finally:
        engine.dispose()
    return int(found)


def test_one_persons_simultaneous_bookings_stay_within_the_day(
    pg_api: httpx.Client, postgres_database: str
) -> None:
    limit = load_fair_use_rules().max_active_per_day
    patient = new_patient(pg_api)
    slots = [new_slot(pg_api, capacity=3, hours_ahead=24 * 5 + i / 60) for i in range(8)]
    answers = _at_once(pg_api, [("POST", "/Appointment", appointment(s, patient)) for s in slots])
    codes = Counter(r.status_code for r in answers)
    assert codes[201] == limit and set(codes) == {201, 409}, codes
    assert _active_places(postgres_database, slots) == limit


def test_one_persons_simultaneous_bookings_in_one_session(
    pg_api: httpx.Client, postgres_database: str
) -> None:
    patient = new_patient(pg_api)
    first = new_slot(pg_api, capacity=3, hours_ahead=24 * 6)
    slots = [first, *(slot_beside(pg_api, first, 0) for _ in range(5))]
    answers = _at_once(pg_api, [("POST", "/Appointment", appointment(s, patient)) for s in slots])
    codes = Counter(r.status_code for r in answers)
    assert codes[201] == 1 and set(codes) == {201, 409}, codes
    assert _active_places(postgres_database, slots) == 1


def test_a_freed_place_is_offered_once(pg_api: httpx.Client) -> None:
    slot = new_slot(pg_api, capacity=2, hours_ahead=24 * 7)
    booked = [
        pg_api.post("/Appointment", json=appointment(slot, new_patient(pg_api))) for _ in "ab"
    ]
    assert [b.status_code for b in booked] == [201, 201]
    line = [
        pg_api.post("/Appointment", json=appointment(slot, new_patient(pg_api), status="waitlist"))
        for _ in range(4)
    ]
    assert [w.status_code for w in line] == [201] * 4, line[0].text
    # both bookings cancelled at once, each cancellation sent three times
    cancels = [("POST", f"/Appointment/{b.json()['id']}/$cancel", None) for b in booked] * 3
    assert {r.status_code for r in _at_once(pg_api, cancels)} == {200}
    statuses = [pg_api.get(f"/Appointment/{w.json()['id']}").json()["status"] for w in line]
    assert statuses == ["pending", "pending", "waitlist", "waitlist"], statuses
    assert pg_api.get(f"/Slot/{slot}").json()["status"] == "busy"
