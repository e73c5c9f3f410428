"""The referral service's write hooks (registered in ``hub.wiring``), so every write path
(REST, Bundles, HL7 v2, the CLI) creates and moves referrals the same way.

- A referral ServiceRequest, when created active: checked (``service.check_request``), and
  its process-request Task created in the same transaction, unless the transaction Bundle
  brings its own. One whose performers are names without a reference (an HL7 v2 REF) is the
  sending system's record and stays outside the workflow.
- A process-request Task focused on a referral: a new one must start requested, be the
  requester's, for the request's patient and owned by the request's target; an update must be
  a move of ``states.MOVES`` made by the right side. Accepting grants the owner time-boxed
  access to the patient's record; completing, cancelling or handing back withdraws it
  (``referral.access``).

A refusal raises, so the transaction rolls back and nothing changes.
"""

from __future__ import annotations

from typing import Any

from hub.auth.roles import Role
from hub.errors import Conflict, FhirError, Forbidden, InvalidRequest
from hub.fhir.origin import origin_facility
from hub.fhir.store import FhirStore
from hub.fhir.write_hooks import WriteKind
from referral.access import address_request, follow_move
from referral.loop import LOOP_CLIENT_ID
from referral.rules import is_process_request, is_referral, reference_of, request_reference
from referral.service import (
    ReferralRefused,
    check_request,
    check_target,
    named_outside_the_hub,
    resolve_target,
    task_for,
    transaction_writes_task,
)
from referral.sla import SLA_CLIENT_ID
from referral.states import MoveRefused, RefusalKind, Side, check_move, check_new

_ERRORS: dict[RefusalKind, type[FhirError]] = {
    RefusalKind.CONFLICT: Conflict,
    RefusalKind.FORBIDDEN: Forbidden,
    RefusalKind.INVALID: InvalidRequest,
}


def referral_requested(
    store: FhirStore, kind: WriteKind, resource_type: str, request: dict[str, Any]
) -> None:
    if kind is not WriteKind.CREATE or request.get("status") != "active":
        return
    if not is_referral(request) or store.actor.role is Role.operator:
        return
    if named_outside_the_hub(request):
        return
    target = check_request(store, request)
    if not transaction_writes_task(store):
        store.create("Task", task_for(request, target.organization))


def referral_task_written(
    store: FhirStore, kind: WriteKind, resource_type: str, task: dict[str, Any]
) -> None:
    if kind is WriteKind.DELETE or not is_process_request(task):
        return
    request = _request_of(store, task)
    if request is None:
        return
    try:
        if kind is WriteKind.CREATE:
            _check_new_task(store, task, request)
            address_request(store, task, request)
        else:
            before = _check_task_move(store, task)
            follow_move(store, before, task, request)
    except MoveRefused as refused:
        raise _ERRORS[refused.kind](str(refused)) from None


def refusal_error(refused: MoveRefused) -> FhirError:
    """The OperationOutcome error a refused move leaves the API as."""
    return _ERRORS[refused.kind](str(refused))


def _request_of(store: FhirStore, task: dict[str, Any]) -> dict[str, Any] | None:
    reference = request_reference(task)
    if not reference:
        return None
    # The hub's own read for its workflow check: the request is not disclosed to the writer.
    body = store.system.current("ServiceRequest", reference.removeprefix("ServiceRequest/"))
    if body is None:
        raise ReferralRefused(f"the Task's focus {reference} is not known")
    return body if is_referral(body) else None


def _check_new_task(store: FhirStore, task: dict[str, Any], request: dict[str, Any]) -> None:
    check_new(task)
    if store.actor.role is Role.operator:
        return
    if origin_facility(request) != store.actor.facility:
        raise Forbidden("only the facility that made a referral creates its Task")
    if reference_of(task.get("for")) != reference_of(request.get("subject")):
        raise ReferralRefused("a referral's Task is for the patient of its ServiceRequest")
    performers = [reference_of(p) for p in request.get("performer") or []]
    owner = reference_of(task.get("owner"))
    if len(performers) != 1 or resolve_target(store, performers[0]).organization != owner:
        raise ReferralRefused("a referral's Task is owned by its ServiceRequest's performer")


def previous_task(store: FhirStore, task: dict[str, Any]) -> dict[str, Any]:
    """The Task as it was before this update."""
    before = store.system.previous_version(task)
    if before is None:
        raise ReferralRefused("a referral's Task update has no earlier version")
    return before


def _check_task_move(store: FhirStore, task: dict[str, Any]) -> dict[str, Any]:
    before = previous_task(store, task)
    move = check_move(before, task, side_of(store, before))
    if move is not None and move.redirect:
        owner = reference_of(task.get("owner"))
        check_target(store, resolve_target(store, owner))
    return before


def side_of(store: FhirStore, task: dict[str, Any]) -> Side:
    actor = store.actor
    if actor.role is Role.operator:
        hub_sides = {LOOP_CLIENT_ID: Side.SYSTEM, SLA_CLIENT_ID: Side.HUB}
        return hub_sides.get(actor.client_id, Side.OPERATOR)
    if reference_of(task.get("owner")) == f"Organization/{actor.facility}":
        return Side.OWNER
    if origin_facility(task) == actor.facility:
        return Side.REQUESTER
    return Side.OTHER
