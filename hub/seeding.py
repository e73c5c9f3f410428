"""Loading the region registry and a synthetic population into the store (``hub seed``)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from hub.auth.actor import SYSTEM_ACTOR
from hub.db import session_scope
from hub.demo.population import generate_residents, resident_to_patient
from hub.fhir.bulk import analyze_tables, bulk_create
from hub.fhir.store import FhirStore
from hub.region.facilities import Facility, load_facilities
from hub.region.facility_fhir import facility_to_location, facility_to_organization
from hub.region.resources import facility_resources
from hub.security.fields import get_cipher
from hub.settings import get_settings

Progress = Callable[[int], None]
BATCH = 250
BULK_BATCH = 5000


def _store(session: object) -> FhirStore:
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    return FhirStore(session, SYSTEM_ACTOR, get_cipher(), get_settings().fhir_base_url)


def _existing_ids(resource_type: str) -> set[str]:
    with session_scope() as session:
        return _store(session).system.ids(resource_type)


def seed_region(progress: Progress | None = None) -> int:
    """Organization + Location per facility, with the facility code as id, and what
    :func:`hub.region.resources.add_facility_resources` registered. Idempotent."""
    facilities = load_facilities()
    have_orgs, have_locs = _existing_ids("Organization"), _existing_ids("Location")
    extras = {f.code: facility_resources(f) for f in facilities}
    have = {t: _existing_ids(t) for t in {r["resourceType"] for rs in extras.values() for r in rs}}
    # Parents first, so partOf always points at a stored Organization.
    ordered = sorted(facilities, key=lambda f: f.parent_code is not None)
    created = 0
    for start in range(0, len(ordered), BATCH):
        chunk: list[Facility] = ordered[start : start + BATCH]
        with session_scope() as session:
            store = _store(session)
            for facility in chunk:
                if facility.organization_id not in have_orgs:
                    store.update(
                        "Organization", facility.organization_id, facility_to_organization(facility)
                    )
                    created += 1
                if facility.location_id not in have_locs:
                    store.update("Location", facility.location_id, facility_to_location(facility))
                    created += 1
                for extra in extras[facility.code]:
                    rtype, rid = extra["resourceType"], extra["id"]
                    if rid not in have[rtype]:
                        store.update(rtype, rid, extra)
                        created += 1
        if progress:
            progress(len(chunk))
    return created


def patient_count() -> int:
    with session_scope() as session:
        return _store(session).system.count("Patient")


def _missing_patients(
    count: int, seed: int, existing: set[str], progress: Progress | None
) -> Iterator[dict[str, Any]]:
    """The seed's synthetic Patients (ids ``res-{seed}-0000001``...) not stored yet."""
    for index, resident in enumerate(generate_residents(count, seed=seed), start=1):
        patient_id = f"res-{seed}-{index:07d}"
        if patient_id in existing:
            if progress:
                progress(1)
            continue
        yield resident_to_patient(resident, patient_id=patient_id)


def seed_population(count: int, *, seed: int = 0, progress: Progress | None = None) -> int:
    """Synthetic residents as Patients with ids ``res-000001``... Idempotent for a given seed."""
    existing = _existing_ids("Patient")
    created = 0
    batch: list[tuple[str, dict[str, object]]] = []

    def flush() -> None:
        nonlocal created
        with session_scope() as session:
            store = _store(session)
            for patient_id, patient in batch:
                store.update("Patient", patient_id, patient)
        created += len(batch)
        if progress:
            progress(len(batch))
        batch.clear()

    for patient in _missing_patients(count, seed, existing, progress):
        batch.append((str(patient["id"]), patient))
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return created


def seed_population_bulk(
    count: int, *, seed: int = 0, progress: Progress | None = None, batch_size: int = BULK_BATCH
) -> int:
    """``seed_population`` through the bulk loader (hub.fhir.bulk): the same Patients and FHIR
    rows, ``batch_size`` per transaction and one audit entry per batch, but without the write
    hooks, so the Patients are not registered in the master patient index. Idempotent for a
    given seed.

    Two batches are in flight at once, each in its own transaction: while the database digests
    one batch, the next is generated, sealed and indexed.
    """
    existing = _existing_ids("Patient")
    settings, cipher = get_settings(), get_cipher()

    def load(batch: list[dict[str, object]]) -> int:
        with session_scope() as session:
            bulk_create(
                session,
                "Patient",
                batch,
                actor=SYSTEM_ACTOR,
                cipher=cipher,
                base_url=settings.fhir_base_url,
            )
        if progress:
            progress(len(batch))
        return len(batch)

    def batches() -> Iterator[list[dict[str, object]]]:
        batch: list[dict[str, object]] = []
        for patient in _missing_patients(count, seed, existing, progress):
            batch.append(patient)
            if len(batch) >= batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    created = 0
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="bulk-load") as pool:
        in_flight: deque[Future[int]] = deque()
        for batch in batches():
            if len(in_flight) >= 2:
                created += in_flight.popleft().result()
            in_flight.append(pool.submit(load, batch))
        while in_flight:
            created += in_flight.popleft().result()
    if created:
        with session_scope() as session:
            analyze_tables(session)
    return created
