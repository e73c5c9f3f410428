"""What a consultation is, how its Task moves and what it shares. Pure: no I/O.

A consultation (an Advice & Guidance request) is a ``ServiceRequest`` whose category is SNOMED
11429006 *Consultation*, tracked by a process-request ``Task`` like a referral. The requester
picks a specialist (``PractitionerRole``), a department (``HealthcareService``) or a pool (an
``Organization``); the Task is owned by the facility behind it. Its moves::

    requested -> received -> accepted -> in-progress -> completed   (the owner)
    accepted -> completed                 (the report needs no session)
    requested | received -> rejected      (the owner, reason required)
    accepted -> rejected                  (the owner hands it back, reason required)
    requested | received | accepted | in-progress -> cancelled   (the requester, reason)
    rejected -> requested, to a new owner (the requester redirects it)

Completing needs the report (a ``DiagnosticReport`` or ``Composition``) in ``Task.output``.
The consultant reads exactly the case: the request, its Task, the patient, the resources the
request lists in ``supportingInfo`` and what the requester adds to the thread.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from referral.rules import REFERRAL_CATEGORY, SNOMED, reference_of
from referral.states import MOVES as REFERRAL_MOVES
from referral.states import Move, Side, table_of

CONSULTATION_CODE = "11429006"
CONSULTATION_CATEGORY: dict[str, Any] = {
    "coding": [{"system": SNOMED, "code": CONSULTATION_CODE, "display": "Consultation"}]
}
REPORT_TYPES = ("DiagnosticReport", "Composition")
TARGET_TYPES = ("PractitionerRole", "HealthcareService", "Organization")
CASE_VALIDITY = timedelta(days=14)  # the consultant's access without a period on the request
CONVERTED = "converted-to-referral"

# The referral's moves, but for arrival and feedback: a session, or straight to the report.
MOVES: tuple[Move, ...] = (
    *(move for move in REFERRAL_MOVES if move.target not in ("in-progress", "completed")),
    Move("accepted", "in-progress", Side.OWNER, business_status="session-held"),
    Move("accepted", "completed", Side.OWNER, business_status="report-issued"),
    Move("in-progress", "completed", Side.OWNER, business_status="report-issued"),
    Move("in-progress", "cancelled", Side.REQUESTER, reason_required=True),
)
TABLE = table_of(MOVES)


def is_consultation(request: dict[str, Any]) -> bool:
    return any(
        isinstance(coding, dict) and coding.get("code") == CONSULTATION_CODE
        for concept in request.get("category") or []
        if isinstance(concept, dict)
        for coding in concept.get("coding") or []
    )


def supporting(request: dict[str, Any]) -> list[str]:
    return [r for r in (reference_of(i) for i in request.get("supportingInfo") or []) if r]


def case_data(task: dict[str, Any], request: dict[str, Any]) -> list[str]:
    """What the consultant reads: the request, its Task, the patient and the listed case."""
    return [
        f"ServiceRequest/{request['id']}",
        f"Task/{task['id']}",
        reference_of(task.get("for")),
        *supporting(request),
    ]


def reports(task: dict[str, Any]) -> list[str]:
    """The report references in ``Task.output``."""
    found = [reference_of(o.get("valueReference")) for o in task.get("output") or []]
    return [r for r in found if r.partition("/")[0] in REPORT_TYPES]


def thread_task(message: dict[str, Any]) -> str:
    """The ``Task/id`` a Communication belongs to (``partOf``, else ``about``), or ``""``."""
    for value in [*(message.get("partOf") or []), *(message.get("about") or [])]:
        reference = reference_of(value)
        if reference.startswith("Task/"):
            return reference
    return ""


def attachments(message: dict[str, Any]) -> list[str]:
    """The DocumentReferences a Communication carries (``payload.contentReference``)."""
    found = [reference_of(p.get("contentReference")) for p in message.get("payload") or []]
    return [r for r in found if r]


def based_on_request(report: dict[str, Any]) -> str:
    for value in report.get("basedOn") or []:
        reference = reference_of(value)
        if reference.startswith("ServiceRequest/"):
            return reference
    return ""


def as_referral(consultation: dict[str, Any], performer: str, thread: list[str]) -> dict[str, Any]:
    """The referral an Advice & Guidance exchange becomes: the same patient, requester, reason
    and priority, sent to ``performer``, replacing the consultation and keeping its thread
    (the case and the messages) as ``supportingInfo``."""
    kept = dict.fromkeys([*supporting(consultation), *thread])
    referral: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "category": [REFERRAL_CATEGORY],
        "subject": consultation["subject"],
        "requester": consultation["requester"],
        "performer": [{"reference": performer}],
        "replaces": [{"reference": f"ServiceRequest/{consultation['id']}"}],
        "supportingInfo": [{"reference": r} for r in kept],
    }
    for name in ("priority", "reasonCode", "reasonReference", "occurrencePeriod"):
        if consultation.get(name):
            referral[name] = consultation[name]
    return referral
