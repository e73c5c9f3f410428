"""Who wrote a resource: ``meta.source``, stamped by the store and never taken from a client.

A facility's writes carry ``FACILITY_SOURCE + code``, a patient app's ``PATIENT_SOURCE + id``.
The consent policy lets a facility always see what it recorded; the write decision
(``hub.fhir.write_access``) lets a writer change only what it originated.
"""

from __future__ import annotations

from typing import Any

from hub.fhir.systems import NAMESPACE

FACILITY_SOURCE = f"{NAMESPACE}/facility/"
PATIENT_SOURCE = f"{NAMESPACE}/patient/"


def facility_source(code: str) -> str:
    return f"{FACILITY_SOURCE}{code}"


def patient_source(patient_id: str) -> str:
    return f"{PATIENT_SOURCE}{patient_id}"


def source_of(resource: dict[str, Any] | None) -> str | None:
    meta = (resource or {}).get("meta")
    source = meta.get("source") if isinstance(meta, dict) else None
    return source if isinstance(source, str) and source else None


def origin_facility(resource: dict[str, Any] | None) -> str | None:
    """The facility code in ``meta.source`` when the store stamped it there."""
    source = source_of(resource)
    if source is not None and source.startswith(FACILITY_SOURCE):
        return source.removeprefix(FACILITY_SOURCE) or None
    return None


def origin_patient(resource: dict[str, Any] | None) -> str | None:
    """The patient id in ``meta.source`` when a patient's own app wrote the resource."""
    source = source_of(resource)
    if source is not None and source.startswith(PATIENT_SOURCE):
        return source.removeprefix(PATIENT_SOURCE) or None
    return None
