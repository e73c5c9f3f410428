"""The release-time surge: many patients press "book" at the same instant, several retrying.

    .venv/bin/python bench/booking_surge.py [--slots 500] [--capacity 4] [--patients 10000]
        [--retry-share 0.3] [--concurrency 200] [--seconds 60]

On PostgreSQL (a fresh database on the local server, dropped at the end): ``--slots`` Slots of
``--capacity`` places each are created through the hub's store, ``--patients`` Patients bulk
loaded. The hub runs under uvicorn (one worker, pinned to one core); each simulated patient
sends one ``POST /fhir/Appointment`` (with an identifier, its idempotency key, and
``If-None-Exist``) for a random slot, and ``--retry-share`` of them send it again at once, all
through the HTTP API with ``--concurrency`` connections, bounded by ``--seconds``. Then the same
attempts go to the baseline (bench/booking_baseline_app.py: one ``SELECT ... FOR UPDATE`` per
booking) on a fresh copy of the ledger. Prints, for both: bookings (must equal the capacity
taken), oversold slots (0), persons with two active places in one slot (0), attempts/s, p50
and p99 latency, and the machine's load.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from fhir_api import Server, configure_hub, create_database, drop_database, free_port

ADMIN_URL = os.environ.get("HUB_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Attempt:
    slot: str
    patient: str
    key: str


@dataclass
class Figures:
    answered: int
    seconds: float
    latencies: list[float]
    statuses: dict[int, int]


def prepare(slots: int, capacity: int, patients: int) -> tuple[list[str], list[str]]:
    from hub.auth.actor import SYSTEM_ACTOR
    from hub.db import session_scope
    from hub.fhir.bulk import bulk_create
    from hub.fhir.store import FhirStore
    from hub.migrate import upgrade_database
    from hub.security.fields import get_cipher
    from hub.settings import get_settings
    from hub.wiring import wire
    from referral.scheduling.resources import CAPACITY_EXTENSION

    upgrade_database()
    wire()
    start = datetime.now(UTC) + timedelta(days=1)
    slot_ids = []
    with session_scope() as session:
        store = FhirStore(session, SYSTEM_ACTOR, get_cipher(), get_settings().fhir_base_url)
        store.create(
            "Location", {"resourceType": "Location", "name": "H001"}, resource_id="H001-loc"
        )
        store.create("Schedule", {"resourceType": "Schedule",
                                  "actor": [{"reference": "Location/H001-loc"}]},
                     resource_id="sch-surge")  # fmt: skip
        for n in range(slots):
            at = start + timedelta(minutes=10 * n)
            slot = store.create(
                "Slot",
                {
                    "resourceType": "Slot",
                    "status": "free",
                    "extension": [{"url": CAPACITY_EXTENSION, "valuePositiveInt": capacity}],
                    "schedule": {"reference": "Schedule/sch-surge"},
                    "start": at.isoformat(),
                    "end": (at + timedelta(minutes=10)).isoformat(),
                },
            )
            slot_ids.append(slot.resource_id)
    ids = [str(uuid.uuid4()) for _ in range(patients)]
    people = [{"resourceType": "Patient", "id": i, "name": [{"family": "王", "given": ["伟"]}]}
              for i in ids]  # fmt: skip
    with session_scope() as session:
        for begin in range(0, len(people), 2000):
            bulk_create(
                session,
                "Patient",
                people[begin : begin + 2000],
                actor=SYSTEM_ACTOR,
                cipher=get_cipher(),
            )
    return slot_ids, ids


def attempts_for(slots: list[str], patients: list[str], retry_share: float) -> list[Attempt]:
    rng = random.Random(16)
    first = [Attempt(rng.choice(slots), p, uuid.uuid4().hex) for p in patients]
    retries = [a for a in first if rng.random() < retry_share]
    mixed = first + retries
    rng.shuffle(mixed)
    return mixed


async def hammer(
    url: str, headers: dict[str, str], bodies: list[tuple[bytes, dict[str, str]]],
    concurrency: int, seconds: float,
) -> Figures:  # fmt: skip
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds
    queue = iter(bodies)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(headers=headers, timeout=60, limits=limits) as client:

        async def worker() -> None:
            for body, extra in queue:
                if time.monotonic() > deadline:
                    return
                began = time.perf_counter()
                response = await client.post(url, content=body, headers=extra)
                latencies.append(time.perf_counter() - began)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
    return Figures(len(latencies), elapsed, latencies, statuses)


def ledger_check(url: str) -> tuple[int, int, int]:
    """(active places, slots over capacity, persons twice in one slot) from the database."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as c:
        active = c.execute(
            sa.text("SELECT count(*) FROM booking_place WHERE state IN ('held','booked')")
        ).scalar_one()
        oversold = c.execute(
            sa.text(
                "SELECT count(*) FROM booking_slot_capacity s WHERE (SELECT count(*) FROM "
                "booking_place p WHERE p.slot_id = s.slot_id AND p.state IN ('held','booked')) "
                "> s.capacity"
            )
        ).scalar_one()
        twice = c.execute(sa.text(
            "SELECT count(*) FROM (SELECT slot_id, person_key FROM booking_place WHERE state "
            "IN ('held','booked') GROUP BY 1, 2 HAVING count(*) > 1) d")).scalar_one()  # fmt: skip
    engine.dispose()
    return int(active), int(oversold), int(twice)


def report(name: str, figures: Figures, check: tuple[int, int, int], capacity: int) -> None:
    ms = sorted(x * 1000 for x in figures.latencies) or [0.0]
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(
        f"{name:10s} bookings {check[0]} of capacity {capacity} | oversold {check[1]} | "
        f"duplicate persons {check[2]} | {figures.answered} attempts answered in "
        f"{figures.seconds:.1f} s = {figures.answered / figures.seconds:.0f}/s | "
        f"p50 {statistics.median(ms):.0f} ms p99 {p99:.0f} ms | statuses {figures.statuses}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slots", type=int, default=500)
    parser.add_argument("--capacity", type=int, default=4)
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--retry-share", type=float, default=0.3)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="booking_surge_"))
    names = []
    try:
        name, url = create_database(ADMIN_URL)
        names.append(name)
        port = free_port()
        configure_hub(url, workdir / "var", port)
        slots, patients = prepare(args.slots, args.capacity, args.patients)
        attempts = attempts_for(slots, patients, args.retry_share)
        capacity = args.slots * args.capacity
        from hub.auth.roles import Role
        from hub.auth.service import get_issuer

        token, _ = get_issuer().issue(client_id="bench", facility="H001",
                                      role=Role.facility_system, scope="system/*.cruds",
                                      purpose_of_use="TREAT")  # fmt: skip
        import orjson

        from referral.scheduling.resources import BOOKING_IDENTIFIER_SYSTEM as SYSTEM

        hub_bodies = [(orjson.dumps({
            "resourceType": "Appointment", "status": "booked",
            "identifier": [{"system": SYSTEM, "value": a.key}],
            "slot": [{"reference": f"Slot/{a.slot}"}],
            "participant": [{"actor": {"reference": f"Patient/{a.patient}"},
                             "status": "accepted"}]}),
            {"If-None-Exist": f"identifier={SYSTEM}|{a.key}"}) for a in attempts]  # fmt: skip
        server = Server("hub.asgi:app", port, workdir / "hub.log", "/healthz")
        try:
            headers = {"Authorization": f"Bearer {token}",
                       "Content-Type": "application/fhir+json"}  # fmt: skip
            hub = asyncio.run(hammer(f"http://127.0.0.1:{port}/fhir/Appointment", headers,
                                     hub_bodies, args.concurrency, args.seconds))  # fmt: skip
        finally:
            server.stop()
        hub_check = ledger_check(url)
        # The baseline: the same slots, a fresh ledger, the same attempts.
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        with engine.begin() as c:
            c.execute(sa.text("DELETE FROM booking_place"))
            c.execute(sa.text("UPDATE booking_slot_capacity SET booked = 0"))
        engine.dispose()
        base_port = free_port()
        baseline_server = Server("bench.booking_baseline_app:app", base_port,
                                 workdir / "baseline.log", "/healthz")  # fmt: skip
        try:
            base_bodies = [(orjson.dumps({"slot": a.slot, "person": a.patient, "key": a.key}), {})
                           for a in attempts]  # fmt: skip
            baseline = asyncio.run(hammer(f"http://127.0.0.1:{base_port}/book",
                                          {"Content-Type": "application/json"}, base_bodies,
                                          args.concurrency, args.seconds))  # fmt: skip
        finally:
            baseline_server.stop()
        print(f"{len(attempts)} attempts ({len(attempts) - len(patients)} retries) on "
              f"{args.slots} slots, capacity {capacity}; load: {os.getloadavg()}")  # fmt: skip
        report("hub", hub, hub_check, capacity)
        report("baseline", baseline, ledger_check(url), capacity)
    finally:
        for name in names:
            drop_database(ADMIN_URL, name)


if __name__ == "__main__":
    main()
