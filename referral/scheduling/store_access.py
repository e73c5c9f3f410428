"""Every call booking makes into the hub's store and patient index, in one module.

Booking writes Schedules, Slots and Appointments through the store's public methods, so its
one decision point (authorization, consent, audit) and its write hooks (subscriptions, HL7 v2
SIU) apply. When the store's repository interface lands, this is the module to re-point.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.auth.actor import SYSTEM_ACTOR
from hub.errors import NotFound
from hub.fhir.search.engine import run_search
from hub.fhir.search.params import parse_search
from hub.fhir.search_parameters import RESOURCE_DEFS
from hub.fhir.store import FhirStore
from hub.fhir.system_reads import StoreSystemReads
from hub.mpi.lookup import person_of
from hub.security.fields import get_cipher
from hub.settings import get_settings

MAX_SEARCH = 1000


def system_store(session: Session) -> FhirStore:
    """The hub's own identity: slot generation, the hold sweep, a Slot's free/busy flag."""
    return FhirStore(session, SYSTEM_ACTOR, get_cipher(), get_settings().fhir_base_url)


def as_system(store: FhirStore) -> FhirStore:
    return system_store(store.session)


def read(store: FhirStore, resource_type: str, resource_id: str) -> dict[str, Any]:
    return store.read(resource_type, resource_id).as_dict()


def exists(store: FhirStore, resource_type: str, resource_id: str) -> bool:
    try:
        store.read(resource_type, resource_id)
    except NotFound:
        return False
    return True


def create(
    store: FhirStore, resource: dict[str, Any], resource_id: str | None = None
) -> dict[str, Any]:
    kind = str(resource["resourceType"])
    return store.create(kind, resource, resource_id=resource_id).as_dict()


def put(store: FhirStore, resource: dict[str, Any], if_match: int | None = None) -> dict[str, Any]:
    stored, _ = store.update(
        str(resource["resourceType"]), str(resource["id"]), resource, if_match=if_match
    )
    return stored.as_dict()


def search(
    store: FhirStore, resource_type: str, params: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    request = parse_search(
        resource_type, params, RESOURCE_DEFS, default_count=MAX_SEARCH, max_count=MAX_SEARCH
    )
    return [match.as_dict() for match in run_search(store, request).matches]


def person_key(session: Session, patient_id: str) -> str:
    """The person in the patient index the Patient record belongs to (its own id when the
    index does not hold it yet): one person has one place per slot, whichever record booked."""
    person = person_of(session, patient_id)
    return f"person/{person}" if person is not None else f"Patient/{patient_id}"


def previous_version(store: FhirStore, resource: dict[str, Any]) -> dict[str, Any] | None:
    """The version before ``resource`` as just written (the hub's own read, not a disclosure)."""
    return StoreSystemReads(store.session, store.cipher).previous_version(resource)


def slot_owner(store: FhirStore, schedule_id: str) -> str | None:
    """The facility (its Organization id) that owns a Schedule: its Location's managing
    organization, or an Organization actor; None when the Schedule names neither."""
    reads = StoreSystemReads(store.session, store.cipher)
    schedule = reads.current("Schedule", schedule_id) or {}
    for actor in schedule.get("actor") or []:
        kind, _, ident = str(actor.get("reference") or "").partition("/")
        if kind == "Organization":
            return ident
        location = reads.current("Location", ident) if kind == "Location" else None
        managing = str(((location or {}).get("managingOrganization") or {}).get("reference") or "")
        if managing.startswith("Organization/"):
            return managing.removeprefix("Organization/")
    return None
