"""A consultation's video session: an ``Appointment`` based on the consultation's ServiceRequest.

The hub books no video: it records the session the two doctors agree on. The Appointment names
the consultation in ``basedOn``, the patient and the two doctors as participants, and the video
link the facility uses as an ``Endpoint`` in ``supportingInformation`` (R4 has no
``virtualService``): ``connectionType`` :data:`VIDEO_CONNECTION`, ``address`` the link,
``managingOrganization`` the facility whose link it is. Only the consultation's two facilities
book it (once the consultant accepted) or change it (also after the report, to mark it held),
for the consultation's patient, with their own doctors and links. The other side reads it (and
its Endpoint) under the consultation's grant, and a ``Communication`` on the Task's thread
announces it.
"""

from __future__ import annotations

from typing import Any

from hub.auth.roles import Role
from hub.fhir.origin import origin_facility
from hub.fhir.store import FhirStore
from hub.fhir.systems import NAMESPACE
from hub.fhir.write_hooks import WriteKind
from referral.access import GrantKind, share_with
from referral.consultation.hooks import consultation_of, current, party_of, tasks_of
from referral.consultation.rules import based_on_request
from referral.rules import reference_of
from referral.service import ReferralRefused
from referral.states import Side

VIDEO_CONNECTION = {"system": f"{NAMESPACE}/CodeSystem/endpoint-connection-type", "code": "video"}
BOOKABLE = ("accepted", "in-progress")


def session_written(
    store: FhirStore, kind: WriteKind, resource_type: str, appointment: dict[str, Any]
) -> None:
    """Check a consultation's session, share it with the other side, tell the thread."""
    if kind is WriteKind.DELETE or store.actor.role is Role.operator:
        return
    request = consultation_of(store, based_on_request(appointment))
    if request is None:
        return
    task = next(iter(tasks_of(store, str(request["id"]))), None)
    if task is None:
        raise ReferralRefused("the consultation has no Task to hold a session for")
    side = party_of(store, task)  # a third facility: 403
    if kind is WriteKind.CREATE and task.get("status") not in BOOKABLE:
        raise ReferralRefused("a consultation's session is booked once the consultant accepted")
    parties = {f"Organization/{origin_facility(task)}", reference_of(task.get("owner"))}
    problem = session_problem(appointment, reference_of(task.get("for")))
    problem = problem or _party_problem(store, appointment, parties)
    if problem:
        raise ReferralRefused(problem)
    shared = [f"Appointment/{appointment['id']}", *endpoints(appointment)]
    share_with(store, task, GrantKind.ACCESS if side is Side.REQUESTER else GrantKind.REPLY, shared)
    if kind is WriteKind.CREATE:
        store.create("Communication", session_notice(task, appointment, store.actor.facility))


def session_problem(appointment: dict[str, Any], patient: str) -> str:
    """Why the Appointment cannot be the consultation's session (pure), or ``""``."""
    actors = [reference_of(p.get("actor")) for p in appointment.get("participant") or []]
    if [a for a in actors if a.startswith("Patient/")] != [patient]:
        return (
            "a consultation's session has the consultation's patient, and no other, as participant"
        )
    if not any(a.partition("/")[0] in ("Practitioner", "PractitionerRole") for a in actors):
        return "a consultation's session names its doctors as participants"
    return ""


def endpoints(appointment: dict[str, Any]) -> list[str]:
    found = [reference_of(i) for i in appointment.get("supportingInformation") or []]
    return [r for r in found if r.startswith("Endpoint/")]


def session_notice(
    task: dict[str, Any], appointment: dict[str, Any], facility: str
) -> dict[str, Any]:
    """The thread's message announcing the session (no personal data beyond the Task's)."""
    when = str(appointment.get("start") or "")
    return {
        "resourceType": "Communication",
        "status": "completed",
        "partOf": [{"reference": f"Task/{task['id']}"}],
        "about": [{"reference": f"Appointment/{appointment['id']}"}],
        "subject": task["for"],
        "sender": {"reference": f"Organization/{facility}"},
        "payload": [{"contentString": f"视频会诊已预约 {when}".strip()}],
    }


def _party_problem(store: FhirStore, appointment: dict[str, Any], parties: set[str]) -> str:
    """The doctors' roles and the video links belong to the consultation's two facilities."""
    actors = [reference_of(p.get("actor")) for p in appointment.get("participant") or []]
    for reference in [a for a in actors if a.startswith("PractitionerRole/")]:
        role = current(store, reference)
        if role is None or reference_of(role.get("organization")) not in parties:
            return f"{reference[:80]} is not a doctor of the consultation's facilities"
    for reference in endpoints(appointment):
        endpoint = current(store, reference)
        if endpoint is None or reference_of(endpoint.get("managingOrganization")) not in parties:
            return f"{reference[:80]} is not a video link of the consultation's facilities"
        if VIDEO_CONNECTION not in [
            {"system": c.get("system"), "code": c.get("code")}
            for c in [endpoint.get("connectionType") or {}]
        ]:
            return f"{reference[:80]} is not a video link (connectionType)"
    return ""
