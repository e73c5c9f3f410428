"""Write hooks that turn store changes into outbox rows, in the writing transaction.

Registered in ``hub.wiring`` (the composition root), so every path that writes (REST,
Bundles, HL7 v2 inbound, the CLI) produces the same messages:

- Appointment -> SIU to the facilities of its participants (Location -> managing
  Organization, PractitionerRole -> organization, Practitioner -> its roles' organizations,
  HealthcareService -> provider, and an Organization itself) and to the facility owning its
  Slot: S12 when it becomes ``booked``, S13 when a booked one moves, S14 when it otherwise
  changes, S15 when cancelled, S17 when deleted (``referral.scheduling.his_events``).
- A referral ServiceRequest, and the Task whose focus (or basedOn) is one -> REF^I12 or
  RRI^I12 to the referral's parties: what a referral is and which change tells whom are the
  referral domain's rules (``referral.rules``); this module only builds and addresses them.
- Any write -> the matching rest-hook Subscriptions (``subscriptions.py``).

HL7 v2 goes only to facilities with an active ``hl7v2-mllp`` Endpoint, and never back to the
facility that made the change (its system already knows). Each row's idempotency key is
destination + event + the resource version, so writing the same version again never enqueues
a second message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from adapters.outbound.endpoints import has_endpoint
from adapters.outbound.models import Channel
from adapters.outbound.outbox import OutboundMessage, enqueue
from adapters.outbound.resources import (
    facilities_of,
    hl7_facility_name,
    load_resource,
    previous_version,
    reference_of,
    slot_owners,
)
from adapters.outbound.subscriptions import (
    check_subscriber,
    forget_subscriptions,
    notifications,
)
from adapters.outbound.v2_content import (
    appointment_data,
    patient_for,
    referral_data,
    subject_of,
)
from adapters.outbound.v2_messages import (
    Header,
    PatientData,
    build_referral,
    build_siu,
    control_id_for,
)
from consent.enforcement import disclosed
from hub.auth.roles import FACILITY_ROLES
from hub.fhir.search_parameters import SUPPORTED_TYPES
from hub.fhir.store import FhirStore
from hub.fhir.write_hooks import WriteKind
from referral.rules import (
    Notice,
    Party,
    is_referral,
    performer_references,
    request_notice,
    request_reference,
    requester_references,
    task_notice,
)
from referral.scheduling.his_events import siu_event

NOT_SUBSCRIBABLE = frozenset({"Subscription", "AuditEvent"})
Builder = Callable[[Header, PatientData], str]


def _version(resource: dict[str, Any]) -> str:
    return str((resource.get("meta") or {}).get("versionId") or "1")


def _send_v2(
    store: FhirStore,
    recipients: Iterable[str],
    event: str,
    resource: dict[str, Any],
    patient_id: str,
    build_from: Callable[[dict[str, Any]], Builder],
    content: dict[str, Any] | None = None,
) -> None:
    """Build and enqueue one message per recipient with an HL7 v2 endpoint (not the writer).

    ``content`` (``resource`` unless given: a Task's message carries its ServiceRequest) is
    decided per recipient as that facility treating the patient; the message is built from what
    the decision shows (``build_from``), or not sent at all."""
    session, cipher = store.session, store.cipher
    source = f"{resource['resourceType']}/{resource['id']}/_history/{_version(resource)}"
    for destination in sorted(set(recipients) - {store.actor.facility}):
        if not has_endpoint(session, cipher, destination, Channel.HL7V2):
            continue
        shown = disclosed(session, destination, content or resource, event, store.base_url)
        if shown is None:
            continue  # the patient's consent keeps this facility out (audited)
        build = build_from(shown)
        key = f"{destination}|{event}|{source}"
        header = Header(
            hl7_facility_name(session, cipher, destination), control_id_for(key), datetime.now(UTC)
        )
        patient = (
            patient_for(session, cipher, patient_id, destination) if patient_id else PatientData(())
        )
        text = build(header, patient)
        message = OutboundMessage(destination, Channel.HL7V2, event, source, key, text.encode())
        enqueue(session, cipher, message)


def _facilities(store: FhirStore, references: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    for value in references:
        found |= facilities_of(store.session, store.cipher, reference_of(value))
    return found


def appointment_changed(
    store: FhirStore, kind: WriteKind, resource_type: str, appointment: dict[str, Any]
) -> None:
    deleted = kind is WriteKind.DELETE
    previous = None if deleted else previous_version(store.session, store.cipher, appointment)
    trigger = siu_event(previous, appointment, deleted=deleted)  # booking's rule
    if trigger is None:
        return
    actors = [p.get("actor") for p in appointment.get("participant") or []]
    recipients = _facilities(store, actors) | slot_owners(store.session, store.cipher, appointment)
    _send_v2(store, recipients, f"SIU^{trigger}", appointment,
             subject_of(appointment, "participant"),
             lambda shown: lambda header, patient: build_siu(
                 trigger, header, appointment_data(shown), patient))  # fmt: skip


def _recipients(store: FhirStore, request: dict[str, Any], notice: Notice) -> set[str]:
    """The facilities of the parties ``notice`` names."""
    found: set[str] = set()
    if Party.PERFORMERS in notice.parties:
        found |= _facilities(store, performer_references(request))
    if Party.REQUESTERS in notice.parties:
        found |= _facilities(store, requester_references(request))
    return found


def referral_changed(
    store: FhirStore, kind: WriteKind, resource_type: str, request: dict[str, Any]
) -> None:
    if kind is WriteKind.DELETE or not is_referral(request):
        return
    notice = request_notice(previous_version(store.session, store.cipher, request), request)
    if notice is None:
        return
    code = notice.kind.value
    _send_v2(store, _recipients(store, request, notice), f"{code}^I12", request,
             subject_of(request, "subject"),
             lambda shown: lambda header, patient: build_referral(
                 code, header, referral_data(shown), patient))  # fmt: skip


def referral_task_changed(
    store: FhirStore, kind: WriteKind, resource_type: str, task: dict[str, Any]
) -> None:
    if kind is WriteKind.DELETE:
        return
    request_ref = request_reference(task)
    if not request_ref:
        return
    request = load_resource(
        store.session, store.cipher, "ServiceRequest", request_ref.removeprefix("ServiceRequest/")
    )
    if request is None or not is_referral(request):
        return
    notice = task_notice(previous_version(store.session, store.cipher, task), task)
    if notice is None:
        return
    status = str(task.get("status") or "")
    patient = subject_of(task, "for") or subject_of(request, "subject")
    code = notice.kind.value
    _send_v2(store, _recipients(store, request, notice), f"{code}^I12", task, patient,
             lambda shown: lambda header, pid: build_referral(
                 code, header, referral_data(shown, status=status), pid),
             content=request)  # fmt: skip


def notify_subscribers(
    store: FhirStore, kind: WriteKind, resource_type: str, resource: dict[str, Any]
) -> None:
    if kind is WriteKind.DELETE:
        return
    for message in notifications(store.session, store.cipher, resource, store.base_url):
        enqueue(store.session, store.cipher, message)


def subscription_changed(
    store: FhirStore, kind: WriteKind, resource_type: str, subscription: dict[str, Any]
) -> None:
    forget_subscriptions(store.session)  # the next write reads the subscriptions again
    if kind is not WriteKind.DELETE and store.actor.role in FACILITY_ROLES:
        check_subscriber(store.session, store.cipher, store.actor.facility, subscription)


def endpoint_changed(
    store: FhirStore, kind: WriteKind, resource_type: str, endpoint: dict[str, Any]
) -> None:
    forget_subscriptions(store.session)  # a subscription is usable only under an active Endpoint


# The types whose writes reach ``notify_subscribers`` (registered in ``hub.wiring``).
SUBSCRIBABLE_TYPES = tuple(t for t in SUPPORTED_TYPES if t not in NOT_SUBSCRIBABLE)
