"""Whether an Appointment's referral lets it take a place reserved for referrals.

Only an *accepted* referral does: the Appointment is ``basedOn`` a referral ServiceRequest for
the same patient, whose process-request Task (``referral.rules``) is ``accepted`` or
``in-progress``. The request is read as the writer (consent and audit apply); its Task is found
with the hub's own reads, as the referral service does.
"""

from __future__ import annotations

from typing import Any

from hub.errors import FhirError
from hub.fhir.store import FhirStore
from referral.rules import is_process_request, is_referral
from referral.scheduling import store_access as hub
from referral.scheduling.resources import patient_of, reference_id

ACCEPTED_TASK_STATES = frozenset({"accepted", "in-progress"})


def referral_accepted(store: FhirStore, appointment: dict[str, Any]) -> bool:
    patient = patient_of(appointment)
    for based_on in appointment.get("basedOn") or []:
        request_id = reference_id(based_on, "ServiceRequest")
        if request_id is None:
            continue
        try:
            request = hub.read(store, "ServiceRequest", request_id)
        except FhirError:
            continue  # unknown, or not the writer's to see: not a referral it may use
        if not is_referral(request) or reference_id(request.get("subject"), "Patient") != patient:
            continue
        tasks = store.system.referencing("Task", "focus", f"ServiceRequest/{request_id}")
        if any(is_process_request(t) and t.get("status") in ACCEPTED_TASK_STATES for t in tasks):
            return True
    return False
