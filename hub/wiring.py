"""The composition root: who follows what, wired once in one place at start-up.

``create_app()``, the Celery worker (``hub worker``) and the CLI's commands call :func:`wire`
before anything is written. It is the one module of ``hub`` allowed to import the adapters (the
import contracts in ``pyproject.toml`` name it), so a reader finds here that a Patient write
reaches the patient index and the outbox, that a Consent write is checked, and that a merge in
the patient index is announced to the facilities over HL7 v2.
"""

from __future__ import annotations

import threading

import adapters.hl7v2.tasks as hl7v2_tasks
import adapters.outbound.tasks as outbound_tasks
from adapters.fhir_inbound import inbound_qualifier
from adapters.hl7v2.messages import backlog_metric_lines
from adapters.hl7v2.views import router as hl7v2_router
from adapters.outbound import producers
from adapters.outbound.merge import on_persons_merged
from consent.hooks import check_consent
from hub import events
from hub.fhir.inbound import set_inbound_qualifier
from hub.fhir.write_hooks import WriteHook, on_write
from hub.metrics import add_backlog
from hub.mpi.events import PersonsMerged
from hub.mpi.registration.patient_hook import index_patient
from hub.region.resources import add_facility_resources
from hub.worker import celery_app
from referral.directory import healthcare_services
from referral.hooks import referral_requested, referral_task_written
from referral.scheduling import hooks as booking
from referral.scheduling import tasks as booking_tasks
from referral.scheduling.views import router as booking_router

SWEEP_SECONDS = 5.0

# resource type -> the services that follow its writes, in the order they run
WRITE_HOOKS: tuple[tuple[str, WriteHook], ...] = (
    ("Patient", index_patient),  # the patient index, in the writing transaction
    ("Consent", check_consent),  # a Consent is checked before it is stored
    ("ServiceRequest", referral_requested),  # a referral is checked and gets its Task
    ("Task", referral_task_written),  # a referral's Task moves only as referral.states allows
    ("Slot", booking.slot_changed),  # a Slot becomes bookable with its capacity
    ("Appointment", booking.appointment_changed),  # takes or gives back a place, or refuses
    ("Appointment", producers.appointment_changed),  # SIU to the participants' facilities
    ("ServiceRequest", producers.referral_changed),  # REF/RRI for referrals
    ("Task", producers.referral_task_changed),  # RRI when a referral's Task changes
    ("Subscription", producers.subscription_changed),  # the subscriber's endpoint is checked
    *((t, producers.notify_subscribers) for t in producers.SUBSCRIBABLE_TYPES),  # rest-hooks
)

# the adapters' HTTP routers, mounted by create_app() after the core's
ADAPTER_ROUTERS = (hl7v2_router,)
# the services' operations, mounted before the generic FHIR router (Appointment/$find, ...)
SERVICE_ROUTERS = (booking_router,)

_lock = threading.Lock()
_wired = False


def wire() -> None:
    """Register the write hooks, the event subscribers and the beat schedule (idempotent)."""
    global _wired
    with _lock:
        if _wired:
            return
        for resource_type, hook in WRITE_HOOKS:
            on_write(resource_type, hook)
        events.subscribe(PersonsMerged, on_persons_merged)  # ADT^A40 to the facilities
        set_inbound_qualifier(inbound_qualifier)  # a facility's local identifiers, namespaced
        add_backlog(backlog_metric_lines)  # /metrics: the HL7 v2 message log's backlog
        add_facility_resources(healthcare_services)  # the referral directory
        celery_app.conf.beat_schedule = {
            "sweep-hl7-inbox": {"task": hl7v2_tasks.sweep_inbox.name, "schedule": SWEEP_SECONDS},
            "sweep-outbox": {"task": outbound_tasks.sweep_outbox.name, "schedule": SWEEP_SECONDS},
            "sweep-booking-holds": {
                "task": booking_tasks.sweep_holds.name,
                "schedule": booking_tasks.HOLD_SWEEP_SECONDS,
            },
        }
        events.mark_wired()
        _wired = True
