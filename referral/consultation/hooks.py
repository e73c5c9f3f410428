"""The consultation's write hooks (registered in ``hub.wiring``), the referral hooks' pattern.

- a consultation ServiceRequest, created active: checked (a known patient, a reason, one target
  of ``rules.TARGET_TYPES``, not the requester itself, a case about the same patient) and its
  process-request Task created in the same transaction;
- its Task: created by the requester, shown to its owner (``referral.access``); moved only as
  ``rules.MOVES`` allows, completed only with the report in ``output``; acceptance shares the
  case until the report or ``rules.CASE_VALIDITY``;
- a ``Communication`` on the Task (``partOf``/``about``): only the two facilities write on the
  thread, about the Task's patient, with attachments of that patient; what the requester adds
  is shared with the consultant, what the consultant writes with the requester;
- a final ``DiagnosticReport`` based on the consultation, by its consultant: the report issued,
  the Task completes with it in ``output`` (and the consultant's access ends).

A refusal raises, so the transaction rolls back and nothing changes.
"""

from __future__ import annotations

from typing import Any

from hub.auth.roles import Role
from hub.errors import Forbidden
from hub.fhir.origin import origin_facility
from hub.fhir.store import FhirStore
from hub.fhir.write_hooks import WriteKind
from referral.access import GrantKind, address_request, follow_move, share_with
from referral.consultation.rules import (
    CASE_VALIDITY,
    TABLE,
    TARGET_TYPES,
    attachments,
    based_on_request,
    case_data,
    is_consultation,
    reports,
    supporting,
    thread_task,
)
from referral.hooks import previous_task, refusal_error, side_of
from referral.rules import is_process_request, reference_of, request_reference
from referral.service import ReferralRefused, task_for, transaction_writes_task
from referral.states import MoveRefused, Side, check_move, check_new


def consultation_requested(
    store: FhirStore, kind: WriteKind, resource_type: str, request: dict[str, Any]
) -> None:
    if kind is not WriteKind.CREATE or request.get("status") != "active":
        return
    if not is_consultation(request) or store.actor.role is Role.operator:
        return
    owner = _check_request(store, request)
    if not transaction_writes_task(store):
        store.create("Task", task_for(request, owner))


def consultation_task_written(
    store: FhirStore, kind: WriteKind, resource_type: str, task: dict[str, Any]
) -> None:
    if kind is WriteKind.DELETE or not is_process_request(task):
        return
    request = consultation_of(store, request_reference(task))
    if request is None:
        return
    try:
        if kind is WriteKind.CREATE:
            _check_new_task(store, task, request)
            address_request(store, task, request)
            return
        before = previous_task(store, task)
        check_move(before, task, side_of(store, before), TABLE)
    except MoveRefused as refused:
        raise refusal_error(refused) from None
    if task.get("status") == "completed" and before.get("status") != "completed":
        if not reports(task):
            raise ReferralRefused(
                "a consultation completes with its report (DiagnosticReport or Composition) "
                "in Task.output"
            )
        share_with(store, task, GrantKind.REPLY, reports(task))
    data = case_data(task, request)
    follow_move(store, before, task, request, data=data, validity=CASE_VALIDITY)


def thread_written(
    store: FhirStore, kind: WriteKind, resource_type: str, message: dict[str, Any]
) -> None:
    if kind is not WriteKind.CREATE or store.actor.role is Role.operator:
        return  # the hub's own notices (SLA, the patient's) about a Task are not the thread
    task = _task(store, thread_task(message))
    if task is None:
        return
    side = party_of(store, task)
    patient = reference_of(task.get("for"))
    if reference_of(message.get("subject")) != patient:
        raise ReferralRefused("a consultation's message is about the Task's patient (subject)")
    shared = [f"Communication/{message['id']}", *attachments(message)]
    for reference in shared[1:]:
        _require_about(store, reference, patient)
    if side is Side.REQUESTER:
        share_with(store, task, GrantKind.ACCESS, shared)
    elif side is Side.OWNER:
        share_with(store, task, GrantKind.REPLY, shared)


def report_issued(
    store: FhirStore, kind: WriteKind, resource_type: str, report: dict[str, Any]
) -> None:
    if kind is not WriteKind.CREATE or report.get("status") != "final":
        return
    request = consultation_of(store, based_on_request(report))
    if request is None:
        return
    task = next(iter(tasks_of(store, str(request["id"]))), None)
    if task is None or task.get("status") not in ("accepted", "in-progress"):
        return
    if party_of(store, task) not in (Side.OWNER, Side.OPERATOR):
        raise Forbidden("only the consultant's facility issues the consultation's report")
    if reference_of(report.get("subject")) != reference_of(task.get("for")):
        raise ReferralRefused("a consultation's report is about the Task's patient (subject)")
    output = {
        "type": {"text": "consultation report"},
        "valueReference": {"reference": f"DiagnosticReport/{report['id']}"},
    }
    completed = {
        **task,
        "status": "completed",
        "businessStatus": {"text": "report-issued"},
        "output": [*(task.get("output") or []), output],
    }
    store.update("Task", str(task["id"]), completed)


# -- helpers ----------------------------------------------------------------------------------


def _check_request(store: FhirStore, request: dict[str, Any]) -> str:
    """The owner (``Organization/id``) of a well-formed consultation; refuse anything else."""
    subject = reference_of(request.get("subject"))
    if not subject.startswith("Patient/") or current(store, subject) is None:
        raise ReferralRefused("a consultation's subject must be a known Patient")
    if not (request.get("reasonCode") or request.get("reasonReference")):
        raise ReferralRefused("a consultation needs a reason (reasonCode or reasonReference)")
    performers = [reference_of(p) for p in request.get("performer") or []]
    if len(performers) != 1 or performers[0].partition("/")[0] not in TARGET_TYPES:
        raise ReferralRefused(
            "a consultation names one performer: a PractitionerRole, HealthcareService or "
            "Organization"
        )
    owner = _owner_of(store, performers[0])
    if owner == f"Organization/{store.actor.facility}":
        raise ReferralRefused("a facility does not ask itself for a consultation")
    for reference in supporting(request):
        _require_about(store, reference, subject)
    return owner


def _owner_of(store: FhirStore, performer: str) -> str:
    target = current(store, performer)
    if target is None or target.get("active") is False:
        raise ReferralRefused(f"the consultation's target {performer} is not known or not active")
    kind = performer.partition("/")[0]
    if kind == "Organization":
        return performer
    owner = reference_of(target.get("organization" if kind == "PractitionerRole" else "providedBy"))
    if not owner.startswith("Organization/"):
        raise ReferralRefused(f"{performer} names no facility that would answer")
    return owner


def _require_about(store: FhirStore, reference: str, patient: str) -> None:
    """A shared resource exists and is about ``patient`` (no other patient's data is listed)."""
    resource = current(store, reference)
    about = resource and reference_of(resource.get("subject") or resource.get("patient"))
    if not about:
        about = f"Patient/{resource['id']}" if resource and reference.startswith("Patient/") else ""
    if about != patient:
        raise ReferralRefused(f"{reference[:80]} is not a record of the consultation's patient")


def _check_new_task(store: FhirStore, task: dict[str, Any], request: dict[str, Any]) -> None:
    check_new(task)
    if store.actor.role is Role.operator:
        return
    if origin_facility(request) != store.actor.facility:
        raise Forbidden("only the facility that asked for a consultation creates its Task")
    if reference_of(task.get("for")) != reference_of(request.get("subject")):
        raise ReferralRefused("a consultation's Task is for the patient of its ServiceRequest")
    performers = [reference_of(p) for p in request.get("performer") or []]
    if len(performers) != 1 or _owner_of(store, performers[0]) != reference_of(task.get("owner")):
        raise ReferralRefused("a consultation's Task is owned by its performer's facility")


def party_of(store: FhirStore, task: dict[str, Any]) -> Side:
    side = side_of(store, task)
    if side is Side.OTHER:
        raise Forbidden("only the consultation's two facilities write on its thread")
    return side


def current(store: FhirStore, reference: str) -> dict[str, Any] | None:
    resource_type, _, resource_id = reference.partition("/")
    if not resource_id or "/" in resource_id:
        return None
    # The hub's own read for its checks: nothing is disclosed to the writer.
    return store.system.current(resource_type, resource_id)


def consultation_of(store: FhirStore, reference: str) -> dict[str, Any] | None:
    if not reference.startswith("ServiceRequest/"):
        return None
    request = current(store, reference)
    return request if request is not None and is_consultation(request) else None


def _task(store: FhirStore, reference: str) -> dict[str, Any] | None:
    task = current(store, reference) if reference.startswith("Task/") else None
    if task is None or consultation_of(store, request_reference(task)) is None:
        return None
    return task


def tasks_of(store: FhirStore, request_id: str) -> list[dict[str, Any]]:
    return store.system.referencing("Task", "focus", f"ServiceRequest/{request_id}")
