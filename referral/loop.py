"""How a referral's loop closes from what the receiving facility already sends. Pure: no I/O.

The referred person's Encounter at the owner's facility, within the referral's validity, is
the arrival: the accepted Task moves to in-progress (businessStatus arrived) and keeps the
Encounter in ``Task.output``. The discharge (that Encounter finished) and a returned document
(a discharge summary or back-referral note, 回转单, as a ``DocumentReference`` or a
``Composition``) together complete it, with the document in ``Task.output``; whichever comes
second closes the loop. The caller has already established that the Encounter or document is
the same person's (the patient index) and was written by the owner's facility (its
``meta.source``); these functions decide the Task that follows, or None when nothing moves.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.fhir.systems import NAMESPACE
from referral.rules import reference_of

# The hub's own identity for these moves: audit shows it, the state table lets it move.
LOOP_CLIENT_ID = "hub-referral-loop"
LOOP_SYSTEM = f"{NAMESPACE}/CodeSystem/referral-loop"
ARRIVAL_OUTPUT = "arrival-encounter"
FEEDBACK_OUTPUT = "feedback-document"
LOINC = "http://loinc.org"
# Discharge summary, summary of episode note, referral note; and the hub's own 回转单 code.
FEEDBACK_TYPES = frozenset(
    {(LOINC, "18842-5"), (LOINC, "34133-9"), (LOINC, "57133-1"), (LOOP_SYSTEM, "back-referral")}
)
# The statuses of a document that stands: a DocumentReference without one reads as current.
STANDING = {"DocumentReference": (None, "current"), "Composition": ("final", "amended")}
# Encounter statuses that mean the patient is (or was) there; planned or cancelled do not.
PRESENT = frozenset({"arrived", "triaged", "in-progress", "onleave", "finished"})
# Until the SLA settings (issue 15 item 6) give one per priority: how long a referral holds
# when neither the Task's restriction nor the request's occurrence says.
DEFAULT_VALIDITY = timedelta(days=90)


@dataclass(frozen=True)
class Visit:
    """An Encounter of the referred person at the owner's facility."""

    reference: str  # ``Encounter/id``
    status: str
    start: datetime | None  # period.start, when the facility sent one


def parse_instant(value: Any) -> datetime | None:
    """A FHIR date or dateTime as an aware datetime (a date or a local time read as UTC)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def visit_of(encounter: dict[str, Any]) -> Visit:
    period = encounter.get("period")
    start = parse_instant(period.get("start")) if isinstance(period, dict) else None
    return Visit(f"Encounter/{encounter['id']}", str(encounter.get("status") or ""), start)


def validity(task: dict[str, Any], request: dict[str, Any]) -> tuple[datetime, datetime]:
    """From when to when an arrival counts: the referral's authoring, to the end of the Task's
    restriction period, else of the request's occurrence, else :data:`DEFAULT_VALIDITY`."""
    authored = parse_instant(task.get("authoredOn") or request.get("authoredOn"))
    start = authored or datetime.min.replace(tzinfo=UTC)
    for period in ((task.get("restriction") or {}).get("period"), request.get("occurrencePeriod")):
        text = period.get("end") if isinstance(period, dict) else None
        end = parse_instant(text)
        if end is not None:
            return start, _end_of_day(end, text)
    occurrence = parse_instant(request.get("occurrenceDateTime"))
    if occurrence is not None:
        return start, _end_of_day(occurrence, request.get("occurrenceDateTime"))
    return start, (authored or datetime.now(UTC)) + DEFAULT_VALIDITY


def _end_of_day(moment: datetime, text: Any) -> datetime:
    """A date-only end holds for the whole day."""
    if isinstance(text, str) and len(text) == 10:
        return moment + timedelta(days=1) - timedelta(microseconds=1)
    return moment


def outputs(task: dict[str, Any], kind: str) -> list[str]:
    """The references ``Task.output`` keeps under ``kind`` (arrival-encounter, ...)."""
    found = []
    for output in task.get("output") or []:
        codings = ((output.get("type") or {}).get("coding")) or []
        if any(c.get("system") == LOOP_SYSTEM and c.get("code") == kind for c in codings):
            found.append(reference_of(output.get("valueReference")))
    return [f for f in found if f]


def arrival_of(task: dict[str, Any]) -> str:
    """The ``Encounter/id`` the Task recorded as the patient's arrival, or ``""``."""
    arrivals = outputs(task, ARRIVAL_OUTPUT)
    return arrivals[0] if arrivals else ""


def on_visit(
    task: dict[str, Any], request: dict[str, Any], visit: Visit, now: datetime
) -> dict[str, Any] | None:
    """The Task after the referred person's Encounter at the owner's facility was written."""
    status = task.get("status")
    if status == "accepted":
        start, end = validity(task, request)
        if visit.status not in PRESENT or not start <= (visit.start or now) <= end:
            return None
        moved = _with_output(task, ARRIVAL_OUTPUT, visit.reference)
        moved["status"] = "in-progress"
        finished = visit.status == "finished"
        moved["businessStatus"] = _business("discharged" if finished else "arrived")
        return moved
    if status != "in-progress" or arrival_of(task) != visit.reference:
        return None
    if visit.status != "finished" or _business_code(task) == "discharged":
        return None
    moved = copy.deepcopy(task)
    if outputs(task, FEEDBACK_OUTPUT):
        return _completed(moved)
    moved["businessStatus"] = _business("discharged")
    return moved


def on_document(
    task: dict[str, Any], document: dict[str, Any], arrival_finished: bool
) -> dict[str, Any] | None:
    """The Task after a returned document of the referred person from the owner's facility.

    A document that names its Encounter counts only for the arrival's; completion waits for
    the discharge (``arrival_finished``)."""
    if task.get("status") != "in-progress" or not is_feedback(document):
        return None
    reference = f"{_kind(document)}/{document['id']}"
    if reference in outputs(task, FEEDBACK_OUTPUT):
        return None
    encounters = document_encounters(document)
    if any(encounters) and arrival_of(task) not in encounters:
        return None
    moved = _with_output(task, FEEDBACK_OUTPUT, reference)
    return _completed(moved) if arrival_finished else moved


def is_feedback(document: dict[str, Any]) -> bool:
    """A standing discharge summary or back-referral note (by its ``type``)."""
    if document.get("status") not in STANDING.get(_kind(document), ()):
        return False
    codings = (document.get("type") or {}).get("coding") or []
    return any((c.get("system"), c.get("code")) in FEEDBACK_TYPES for c in codings)


def document_encounters(document: dict[str, Any]) -> list[str]:
    """The Encounters a document names: a DocumentReference's ``context.encounter``, a
    Composition's ``encounter``."""
    if _kind(document) == "Composition":
        return [reference_of(document.get("encounter"))]
    return [reference_of(e) for e in (document.get("context") or {}).get("encounter") or []]


def _kind(document: dict[str, Any]) -> str:
    return str(document.get("resourceType") or "DocumentReference")


def with_referral(encounter: dict[str, Any], request: dict[str, Any]) -> dict[str, Any] | None:
    """The Encounter carrying its referral in ``basedOn`` (with the referral's identifier, for
    the insurance settlement), or None when it already does."""
    reference = f"ServiceRequest/{request['id']}"
    based_on = list(encounter.get("basedOn") or [])
    if any(reference_of(b) == reference for b in based_on):
        return None
    link: dict[str, Any] = {"reference": reference}
    identifiers = request.get("identifier") or []
    if identifiers:
        link["identifier"] = identifiers[0]
    changed = copy.deepcopy(encounter)
    changed["basedOn"] = [*based_on, link]
    return changed


def _completed(task: dict[str, Any]) -> dict[str, Any]:
    task["status"] = "completed"
    task["businessStatus"] = _business("feedback-returned")
    return task


def _with_output(task: dict[str, Any], kind: str, reference: str) -> dict[str, Any]:
    moved = copy.deepcopy(task)
    entry = {
        "type": {"coding": [{"system": LOOP_SYSTEM, "code": kind}]},
        "valueReference": {"reference": reference},
    }
    moved["output"] = [*(task.get("output") or []), entry]
    return moved


def _business(code: str) -> dict[str, Any]:
    return {"coding": [{"system": LOOP_SYSTEM, "code": code}], "text": code}


def _business_code(task: dict[str, Any]) -> str:
    concept = task.get("businessStatus") or {}
    codings = concept.get("coding") or []
    return str(codings[0].get("code") if codings else concept.get("text") or "")
