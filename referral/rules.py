"""What a referral is, who its parties are, and which change tells whom. Pure: no I/O.

A referral is a ``ServiceRequest`` whose category is SNOMED 3457005 *patient referral* (or the
plain code ``referral``), tracked by a ``Task`` (``code`` process-request, ``focus`` the
request). The adapters translate these rules into messages (HL7 v2 REF/RRI, FHIR
notifications); the referral service enforces them on writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

SNOMED = "http://snomed.info/sct"
REFERRAL_CODE = "3457005"
REFERRAL_CODES = frozenset({REFERRAL_CODE, "referral"})
REFERRAL_CATEGORY: dict[str, Any] = {
    "coding": [{"system": SNOMED, "code": REFERRAL_CODE, "display": "Patient referral"}]
}
TASK_CODE_SYSTEM = "http://hl7.org/fhir/CodeSystem/task-code"
# The code of the Task that moves a referral through its states (eReferral IGs: an acceptance
# step before the work starts).
PROCESS_REQUEST = "process-request"
PROCESS_REQUEST_CODE: dict[str, Any] = {
    "coding": [{"system": TASK_CODE_SYSTEM, "code": PROCESS_REQUEST}]
}


class Party(StrEnum):
    """The two sides of a referral: the requester's facility and the performers'."""

    PERFORMERS = "performers"
    REQUESTERS = "requesters"


class MessageKind(StrEnum):
    REFERRAL = "REF"  # a new referral, to the facility asked to perform it
    RESPONSE = "RRI"  # a referral's status changed, to both sides


@dataclass(frozen=True)
class Notice:
    """Which message a change sends and to which parties."""

    kind: MessageKind
    parties: frozenset[Party]


TO_PERFORMERS = Notice(MessageKind.REFERRAL, frozenset({Party.PERFORMERS}))
TO_BOTH = Notice(MessageKind.RESPONSE, frozenset(Party))


def is_referral(request: dict[str, Any]) -> bool:
    """True for a ServiceRequest whose category says *patient referral*."""
    return any(
        coding.get("code") in REFERRAL_CODES
        for concept in request.get("category") or []
        if isinstance(concept, dict)
        for coding in concept.get("coding") or []
        if isinstance(coding, dict)
    )


def is_process_request(task: dict[str, Any]) -> bool:
    """True for a Task that carries a referral's workflow (``code`` process-request)."""
    code = task.get("code")
    codings = code.get("coding") if isinstance(code, dict) else None
    return any(isinstance(c, dict) and c.get("code") == PROCESS_REQUEST for c in codings or [])


def reference_of(value: Any) -> str:
    """The ``reference`` string of a Reference, or ``""``."""
    reference = value.get("reference") if isinstance(value, dict) else None
    return reference if isinstance(reference, str) else ""


def request_reference(task: dict[str, Any]) -> str:
    """The ``ServiceRequest/id`` a Task tracks (its focus, else its basedOn), or ``""``."""
    for value in [task.get("focus"), *(task.get("basedOn") or [])]:
        reference = reference_of(value)
        if reference.startswith("ServiceRequest/"):
            return reference
    return ""


def performer_references(request: dict[str, Any]) -> list[Any]:
    """Where the referral goes (``performer``): facilities of the performers' party."""
    return list(request.get("performer") or [])


def requester_references(request: dict[str, Any]) -> list[Any]:
    """Who asked (``requester``): facilities of the requesters' party."""
    return [request.get("requester")]


def request_notice(before: dict[str, Any] | None, request: dict[str, Any]) -> Notice | None:
    """The message a referral ServiceRequest's write sends, given its previous version.

    Sent (created, or leaving ``draft``): REF to the performers. A later status change: RRI to
    both sides. Deleted or draft referrals and unchanged statuses send nothing."""
    status = request.get("status")
    if status == "draft" or not is_referral(request):
        return None
    previous = None if before is None else before.get("status")
    if before is None or previous == "draft":
        return TO_PERFORMERS
    return TO_BOTH if previous != status else None


def task_notice(before: dict[str, Any] | None, task: dict[str, Any]) -> Notice | None:
    """A referral Task's write tells both sides when it is new or its status changed."""
    if before is not None and before.get("status") == task.get("status"):
        return None
    return TO_BOTH
