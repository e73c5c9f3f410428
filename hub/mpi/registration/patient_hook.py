"""Feeding the patient index from every Patient write in the FHIR store (same transaction).

Inside :func:`deferred_registrations` (the bulk loader) a Patient write does not register its
record at once: the record is collected, and the caller registers the whole batch with
:func:`hub.mpi.registration.batch.register_sources` before its transaction commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from hub.errors import InvalidResource
from hub.fhir.origin import origin_facility
from hub.fhir.store import FhirStore
from hub.fhir.systems import facility_patient_system
from hub.fhir.write_hooks import WriteKind
from hub.mpi.matching.features import EmptyRecordError, features_from_patient
from hub.mpi.registration.batch import Registration
from hub.mpi.registration.online import register_source, remove_source

_deferred: ContextVar[list[Registration] | None] = ContextVar("mpi_deferred", default=None)


@contextmanager
def deferred_registrations() -> Iterator[list[Registration]]:
    """Collect the registrations of the Patient writes made inside, in write order."""
    collected: list[Registration] = []
    token = _deferred.set(collected)
    try:
        yield collected
    finally:
        _deferred.reset(token)


def source_id_of(patient: dict[str, Any], facility: str) -> str:
    """The facility's own patient number when the Patient carries it, else the resource id."""
    system = facility_patient_system(facility)
    for identifier in patient.get("identifier") or []:
        if identifier.get("system") == system and identifier.get("value"):
            return str(identifier["value"])
    return f"Patient/{patient.get('id')}"


def is_retired(patient: dict[str, Any]) -> bool:
    """A record the facility merged into another (HL7 A40/A34/A47, or a FHIR client saying so):
    inactive and replaced-by. It leaves the index; the survivor carries the person."""
    links = patient.get("link") or []
    return patient.get("active") is False and any(
        link.get("type") == "replaced-by" for link in links if isinstance(link, dict)
    )


def index_patient(
    store: FhirStore, kind: WriteKind, resource_type: str, patient: dict[str, Any]
) -> None:
    # The record belongs to the facility that recorded it, whoever writes this version (the
    # patient's own app changing a phone number, an operator's correction).
    facility = origin_facility(patient) or store.actor.facility
    source_id = source_id_of(patient, facility)
    actor = f"{store.actor.client_id}@{facility}"
    if kind is WriteKind.DELETE or is_retired(patient):
        remove_source(store.session, store.cipher, facility, source_id, actor)
        return
    try:
        features = features_from_patient(patient)
    except EmptyRecordError as exc:
        raise InvalidResource(f"Patient cannot be indexed: {exc}", code="required") from None
    deferred = _deferred.get()
    if deferred is not None:
        deferred.append(Registration(facility, source_id, str(patient.get("id")), features, actor))
        return
    register_source(store.session, store.cipher, facility=facility, source_id=source_id,
                    patient_id=str(patient.get("id")), features=features, actor=actor)  # fmt: skip
