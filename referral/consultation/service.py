"""An Advice & Guidance exchange converted into a referral in one call.

The requester's call: the new referral (checked and given its Task by the referral hooks, like
any other) replaces the consultation and keeps its thread as ``supportingInfo``; the
consultation's Task is cancelled with the reason ``converted-to-referral`` and points at the
referral in ``output``, which ends the consultant's access to the case.
"""

from __future__ import annotations

from typing import Any

from hub.errors import Forbidden, NotFound
from hub.fhir.origin import origin_facility
from hub.fhir.store import FhirStore
from referral.consultation.rules import CONVERTED, as_referral, is_consultation
from referral.service import ReferralRefused

OPEN = ("requested", "received", "accepted", "in-progress")


def convert_to_referral(
    store: FhirStore, consultation_id: str, performer: str | None
) -> dict[str, Any]:
    """The referral made from consultation ``consultation_id`` (sent to ``performer``, else to
    the facility that answered the consultation)."""
    consultation = store.read("ServiceRequest", consultation_id).as_dict()
    if not is_consultation(consultation):
        raise ReferralRefused(f"ServiceRequest/{consultation_id} is not a consultation")
    if origin_facility(consultation) != store.actor.facility:
        raise Forbidden("only the facility that asked for a consultation converts it")
    tasks = store.system.referencing("Task", "focus", f"ServiceRequest/{consultation_id}")
    task = next((t for t in tasks if t.get("status") in OPEN), None)
    if task is None:
        raise NotFound(f"ServiceRequest/{consultation_id} has no open consultation Task")
    thread = [
        f"Communication/{message['id']}"
        for message in store.system.referencing("Communication", "part-of", f"Task/{task['id']}")
    ]
    target = performer or str(task["owner"]["reference"])
    referral = store.create("ServiceRequest", as_referral(consultation, target, thread)).as_dict()
    output = {
        "type": {"text": CONVERTED},
        "valueReference": {"reference": f"ServiceRequest/{referral['id']}"},
    }
    store.update(
        "Task",
        str(task["id"]),
        {
            **task,
            "status": "cancelled",
            "statusReason": {"text": CONVERTED},
            "businessStatus": {"text": CONVERTED},
            "output": [*(task.get("output") or []), output],
        },
    )
    return referral
