"""A referral's moves as one call each: accept, reject with a reason, redirect to a new owner.

Each reads the Task and writes it back with the move, ``If-Match`` the version the person saw,
through the store: the write hooks check the move (``referral.states``), the access grant
follows it (``referral.access``), and the store authorizes, audits and refuses a stale version
(412), exactly as a PUT of the API does. The console's doctor pages call these.
"""

from __future__ import annotations

from typing import Any

from hub.errors import InvalidRequest
from hub.fhir.repository import StoredResource
from hub.fhir.store import FhirStore

MAX_REASON_LENGTH = 500


def _moved(store: FhirStore, task_id: str, version: int, changes: dict[str, Any]) -> StoredResource:
    task = store.read("Task", task_id).as_dict()
    task.update(changes)
    stored, _ = store.update("Task", task_id, task, if_match=version)
    return stored


def _reason(text: str) -> dict[str, Any]:
    reason = text.strip()
    if not reason:
        raise InvalidRequest("a reason is required")
    if len(reason) > MAX_REASON_LENGTH:
        raise InvalidRequest(f"a reason has at most {MAX_REASON_LENGTH} characters")
    return {"text": reason}


def accept_referral(store: FhirStore, task_id: str, *, version: int) -> StoredResource:
    """The owner accepts: the Task becomes accepted, and the owner gets time-boxed access."""
    return _moved(store, task_id, version, {"status": "accepted"})


def reject_referral(store: FhirStore, task_id: str, *, version: int, reason: str) -> StoredResource:
    """The owner rejects (or hands back an accepted referral), saying why."""
    return _moved(store, task_id, version, {"status": "rejected", "statusReason": _reason(reason)})


def redirect_referral(
    store: FhirStore, task_id: str, *, version: int, owner: str
) -> StoredResource:
    """The requester sends a rejected referral to another facility (``Organization/<code>``)."""
    if not owner.startswith("Organization/") or len(owner) > 80:
        raise InvalidRequest("a referral is redirected to an Organization/<code>")
    return _moved(
        store,
        task_id,
        version,
        {"status": "requested", "owner": {"reference": owner},
         "businessStatus": {"text": "redirected"}},
    )  # fmt: skip
