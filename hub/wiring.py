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
from adapters.outbound.backlog import outbox_metric_lines
from adapters.outbound.merge import on_persons_merged
from consent.hooks import check_consent
from consent.summary import keep_summary
from hub import events
from hub.audit import chain_queue  # noqa: F401  (links the audit chain after commits)
from hub.audit import tasks as audit_tasks
from hub.audit.linking import chain_metric_lines
from hub.fhir.inbound import set_inbound_qualifier
from hub.fhir.write_hooks import WriteHook, check_before_write, keep_derived, on_write
from hub.metrics import add_backlog
from hub.mpi.events import PersonsMerged
from hub.mpi.registration.patient_hook import index_patient
from hub.mpi.stewardship.backlog import review_metric_lines
from hub.region.resources import add_facility_resources
from hub.worker import celery_app
from insurance.catalogue_views import router as insurance_catalogue_router
from insurance.claims_audit import queue as claims_audit_queue
from insurance.claims_audit import tasks as claims_audit_tasks
from insurance.claims_audit.reconcile_hooks import facility_writes_its_upload
from insurance.claims_audit.reconcile_views import router as reconcile_router
from insurance.claims_audit.report_views import router as claims_report_router
from insurance.claims_audit.views import router as claims_audit_router
from insurance.national.views import router as national_insurance_router
from insurance.pharmacy.hooks import dispense_written
from insurance.policy_source import PolicyFileError, configured_policy
from insurance.settlement.views import router as insurance_router
from referral import arrival
from referral.consultation import hooks as consultation
from referral.consultation import session as consultation_session
from referral.consultation.views import router as consultation_router
from referral.directory import healthcare_services
from referral.hooks import referral_requested, referral_task_written
from referral.scheduling import his_reports as booking_reports
from referral.scheduling import hooks as booking
from referral.scheduling import tasks as booking_tasks
from referral.scheduling.views import router as booking_router
from referral.tasks import SLA_SWEEP_SECONDS, sweep_sla
from referral.views import router as referral_router

SWEEP_SECONDS = 5.0
AUDIT_SWEEP_SECONDS = 2.0  # the audit chain's lag when every wake-up was lost

# resource type -> the services that follow its writes, in the order they run
WRITE_HOOKS: tuple[tuple[str, WriteHook], ...] = (
    ("Patient", index_patient),  # the patient index, in the writing transaction
    ("Consent", check_consent),  # a Consent is checked before it is stored
    ("ServiceRequest", referral_requested),  # a referral is checked and gets its Task
    ("Task", referral_task_written),  # a referral's Task moves only as referral.states allows
    ("Task", arrival.tell_the_patient),  # each move: a Communication to the patient
    ("Encounter", arrival.encounter_written),  # the referred patient arrives, is discharged
    ("DocumentReference", arrival.document_written),  # the feedback returned closes the loop
    ("Composition", arrival.document_written),  # the same, as a FHIR document's Composition
    ("ServiceRequest", consultation.consultation_requested),  # a consultation gets its Task
    ("Task", consultation.consultation_task_written),  # and moves by its own table
    ("Communication", consultation.thread_written),  # its thread, shared with the other side
    ("DiagnosticReport", consultation.report_issued),  # its report completes it
    ("Appointment", consultation_session.session_written),  # a consultation's video session
    ("Slot", booking.slot_changed),  # a Slot becomes bookable with its capacity
    ("Appointment", booking.appointment_changed),  # takes or gives back a place, or refuses
    ("Appointment", producers.appointment_changed),  # SIU to the participants' facilities
    ("Encounter", booking_reports.arrival_registered),
    (
        "MedicationDispense",
        dispense_written,
    ),  # takes its quantity from its prescription  # a visit opened: the booking arrived
    ("ServiceRequest", producers.referral_changed),  # REF/RRI for referrals
    ("Task", producers.referral_task_changed),  # RRI when a referral's Task changes
    ("Subscription", producers.subscription_changed),  # the subscriber's endpoint is checked
    ("Endpoint", producers.endpoint_changed),  # the subscriptions it carries are read again
    ("ExplanationOfBenefit", claims_audit_queue.settlement_written),  # a settlement: its audit
    ("MedicationDispense", claims_audit_queue.late_record_written),  # a late dispense: again
    ("MedicationRequest", claims_audit_queue.late_record_written),  # a late prescription: again
    *((t, producers.notify_subscribers) for t in producers.SUBSCRIBABLE_TYPES),  # rest-hooks
)

# resource type -> the checks that may refuse its writes before any row changes (cheap reads)
WRITE_CHECKS: tuple[tuple[str, WriteHook], ...] = (
    ("Appointment", booking.refuse_full_slot),  # a full slot, refused before the write
    ("PaymentReconciliation", facility_writes_its_upload),  # a facility: its day's upload only
)

# resource type -> rows derived from it, kept on every write path, bulk loads included
DERIVED_DATA: tuple[tuple[str, WriteHook], ...] = (
    ("Consent", keep_summary),  # the consent summary the search filter joins
)

# the adapters' HTTP routers, mounted by create_app() after the core's
ADAPTER_ROUTERS = (hl7v2_router,)
# the services' operations, mounted before the generic FHIR router (Appointment/$find, ...)
SERVICE_ROUTERS = (
    booking_router, consultation_router, referral_router, insurance_router,
    insurance_catalogue_router, national_insurance_router, claims_audit_router, reconcile_router,
    claims_report_router,
)  # fmt: skip

_lock = threading.Lock()
_wired = False


def wire() -> None:
    """Register the write hooks, the event subscribers and the beat schedule (idempotent)."""
    global _wired
    with _lock:
        if _wired:
            return
        try:  # a region's insurance policy file is checked now, not at the first settlement
            configured_policy()
        except PolicyFileError as exc:
            raise SystemExit(f"hub: {exc}") from None
        for resource_type, hook in WRITE_HOOKS:
            on_write(resource_type, hook)
        for resource_type, check in WRITE_CHECKS:
            check_before_write(resource_type, check)
        for resource_type, hook in DERIVED_DATA:
            keep_derived(resource_type, hook)
        events.subscribe(PersonsMerged, on_persons_merged)  # ADT^A40 to the facilities
        set_inbound_qualifier(inbound_qualifier)  # a facility's local identifiers, namespaced
        add_backlog(backlog_metric_lines)  # /metrics: the HL7 v2 message log's backlog
        add_backlog(chain_metric_lines)  # /metrics: the audit chain's linking lag
        add_backlog(outbox_metric_lines)  # /metrics: outbound delivery backlog and lag
        add_backlog(review_metric_lines)  # /metrics: the patient index's review backlog
        add_facility_resources(healthcare_services)  # the referral directory
        celery_app.conf.beat_schedule = {
            "sweep-hl7-inbox": {"task": hl7v2_tasks.sweep_inbox.name, "schedule": SWEEP_SECONDS},
            "sweep-outbox": {"task": outbound_tasks.sweep_outbox.name, "schedule": SWEEP_SECONDS},
            "sweep-booking-holds": {
                "task": booking_tasks.sweep_holds.name,
                "schedule": booking_tasks.HOLD_SWEEP_SECONDS,
            },
            "sweep-referral-sla": {"task": sweep_sla.name, "schedule": SLA_SWEEP_SECONDS},
            "sweep-audit-chain": {
                "task": audit_tasks.sweep_chain.name,
                "schedule": AUDIT_SWEEP_SECONDS,
            },
            "sweep-claims-audit": {
                "task": claims_audit_tasks.sweep_claims_audit.name,
                "schedule": claims_audit_tasks.SWEEP_SECONDS,
            },
        }
        events.mark_wired()
        _wired = True
