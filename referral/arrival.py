"""The loop's write hooks (registered in ``hub.wiring``): the receiving facility's Encounters and
returned documents move the referral's Task, and every move is told to the patient.

They run in the writing transaction, whatever the path (an HL7 v2 ADT or MDM through the MLLP
listener, a FHIR write, a Bundle): the Task has moved when the Encounter is stored, so its
arrival is visible as soon as the message is processed, and rolls back with it. The moves are
the hub's own (``LOOP_ACTOR``), made through the store, so the state table, audit,
subscriptions and HL7 v2 RRI apply as to a doctor's move. Which Encounter or document counts is
decided in :mod:`referral.loop`; here: the same person (every Patient record the patient index
links to the writer's record) and the same facility (the write's ``meta.source``, stamped by
the store, is the Task's owner).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hub.auth.actor import Actor
from hub.auth.roles import Role
from hub.errors import FhirError
from hub.fhir.origin import origin_facility
from hub.fhir.store import FhirStore
from hub.fhir.write_hooks import WriteKind
from hub.fhir.write_origin import HUB_FACILITY
from hub.mpi.lookup import same_person_records
from referral.loop import (
    LOOP_CLIENT_ID,
    arrival_of,
    is_feedback,
    on_document,
    on_visit,
    visit_of,
    with_referral,
)
from referral.patient_notice import patient_notice
from referral.rules import (
    PROCESS_REQUEST,
    TASK_CODE_SYSTEM,
    is_process_request,
    reference_of,
    request_reference,
)
from referral.scheduling.store_access import search

PATIENTS_PER_SEARCH = 100
LOOP_ACTOR = Actor.build(
    client_id=LOOP_CLIENT_ID, facility=HUB_FACILITY, role=Role.operator, scope="system/*.cruds"
)


def encounter_written(
    store: FhirStore, kind: WriteKind, resource_type: str, encounter: dict[str, Any]
) -> None:
    """An Encounter at a referral's receiving facility: arrival, then discharge."""
    if kind is WriteKind.DELETE or store.actor.client_id == LOOP_CLIENT_ID:
        return
    hub = _as_loop(store)
    visit = visit_of(encounter)
    for task in _open_referrals(hub, encounter, "accepted,in-progress"):
        request = _read(hub, request_reference(task))
        if request is None:
            continue
        moved = on_visit(task, request, visit, datetime.now(UTC))
        if moved is not None:
            task = _put(hub, moved)
        if arrival_of(task) == visit.reference:
            changed = with_referral(encounter, request)
            if changed is not None:  # the facility's later writes may drop it: put it back
                hub.update("Encounter", str(encounter["id"]), changed)
            return  # one visit is one referral's arrival


def document_written(
    store: FhirStore, kind: WriteKind, resource_type: str, document: dict[str, Any]
) -> None:
    """A discharge summary or 回转单 from the receiving facility: the referral's feedback."""
    if kind is WriteKind.DELETE or store.actor.client_id == LOOP_CLIENT_ID:
        return
    if not is_feedback(document):
        return
    hub = _as_loop(store)
    for task in _open_referrals(hub, document, "in-progress"):
        arrival = _read(hub, arrival_of(task))
        finished = arrival is not None and arrival.get("status") == "finished"
        moved = on_document(task, document, finished)
        if moved is not None:
            _put(hub, moved)
            return


def tell_the_patient(
    store: FhirStore, kind: WriteKind, resource_type: str, task: dict[str, Any]
) -> None:
    """Every new referral Task and every change of its status reaches the patient; a completed
    referral's ServiceRequest is completed too (what the insurance settlement searches)."""
    if kind is WriteKind.DELETE or not is_process_request(task) or not request_reference(task):
        return
    hub = _as_loop(store)
    version = int((task.get("meta") or {}).get("versionId") or 1)
    before = hub.vread("Task", str(task["id"]), version - 1).as_dict() if version > 1 else None
    notice = patient_notice(before, task)
    if notice is None:
        return
    hub.create("Communication", notice)
    if task.get("status") == "completed":
        request = _read(hub, request_reference(task))
        if request is not None and request.get("status") == "active":
            hub.update("ServiceRequest", str(request["id"]), {**request, "status": "completed"})


def _as_loop(store: FhirStore) -> FhirStore:
    """The hub's identity in the same transaction: its reads and writes audited as the loop's."""
    return FhirStore(store.session, LOOP_ACTOR, store.cipher, store.base_url)


def _open_referrals(hub: FhirStore, written: dict[str, Any], statuses: str) -> list[dict[str, Any]]:
    """The referral Tasks, oldest first, owned by the facility that wrote ``written`` for any
    record of the same person as its subject."""
    facility = origin_facility(written)
    subject = reference_of(written.get("subject"))
    if facility is None or not subject.startswith("Patient/"):
        return []
    patient = subject.removeprefix("Patient/")
    records = sorted(same_person_records(hub.session, [patient])[patient])
    found: list[dict[str, Any]] = []
    # a search takes at most 100 values per parameter; one person may have more records
    for start in range(0, len(records), PATIENTS_PER_SEARCH):
        chunk = records[start : start + PATIENTS_PER_SEARCH]
        params = [
            ("code", f"{TASK_CODE_SYSTEM}|{PROCESS_REQUEST}"),
            ("owner", f"Organization/{facility}"),
            ("status", statuses),
            ("patient", ",".join(f"Patient/{record}" for record in chunk)),
        ]
        found.extend(search(hub, "Task", params))
    return sorted(found, key=lambda task: (str(task.get("authoredOn") or ""), str(task["id"])))


def _read(hub: FhirStore, reference: str) -> dict[str, Any] | None:
    resource_type, _, resource_id = reference.partition("/")
    if not resource_id:
        return None
    try:
        return hub.read(resource_type, resource_id).as_dict()
    except FhirError:
        return None


def _put(hub: FhirStore, task: dict[str, Any]) -> dict[str, Any]:
    version = int((task.get("meta") or {}).get("versionId") or 1)
    stored, _ = hub.update("Task", str(task["id"]), task, if_match=version)
    return stored.as_dict()
