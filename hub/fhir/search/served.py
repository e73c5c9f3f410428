"""The resource types the hub serves, with what the R4 search definitions do not say about them.

``patient_compartment`` names the reference parameters that place a resource in a patient's
compartment (the FHIR Patient CompartmentDefinition, trimmed to what the hub indexes);
``read_only`` types are served but never written through the generic store.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ServedType:
    patient_compartment: tuple[str, ...] = ()
    read_only: bool = False


SERVED_TYPES: dict[str, ServedType] = {
    "Appointment": ServedType(("actor",)),
    "AppointmentResponse": ServedType(("actor",)),
    # Served from the audit log, not written through the generic store.
    "AuditEvent": ServedType(("patient",), read_only=True),
    "Binary": ServedType(),
    "ChargeItem": ServedType(("subject",)),
    "Claim": ServedType(("patient", "payee")),
    "ClaimResponse": ServedType(("patient",)),
    "Communication": ServedType(("subject", "sender", "recipient")),
    "Composition": ServedType(("subject", "author")),
    "Condition": ServedType(("patient", "asserter")),
    "Consent": ServedType(("patient",)),
    "Coverage": ServedType(("policy-holder", "subscriber", "beneficiary", "payor")),
    "CoverageEligibilityRequest": ServedType(("patient",)),
    "CoverageEligibilityResponse": ServedType(("patient",)),
    # Claims-audit findings; only scopes naming the type reach it (hub.auth.scopes).
    "DetectedIssue": ServedType(("patient",)),
    "Device": ServedType(),
    "DiagnosticReport": ServedType(("subject",)),
    "DocumentReference": ServedType(("subject", "author")),
    "Encounter": ServedType(("patient",)),
    "Endpoint": ServedType(),
    "ExplanationOfBenefit": ServedType(("patient", "payee")),
    "HealthcareService": ServedType(),
    "Location": ServedType(),
    "Medication": ServedType(),
    "MedicationDispense": ServedType(("subject", "patient", "receiver")),
    "MedicationRequest": ServedType(("subject",)),
    "Observation": ServedType(("subject", "performer")),
    "Organization": ServedType(),
    "Patient": ServedType(("link",)),
    # A facility's ledger reconciliation (its 3202 details, the hub's result, a recovery): held
    # by the facility it names as requestor (hub.fhir.access.FACILITY_HELD).
    "PaymentReconciliation": ServedType(),
    "Person": ServedType(("patient",)),
    "Practitioner": ServedType(),
    "PractitionerRole": ServedType(),
    "Provenance": ServedType(("patient",)),
    "Schedule": ServedType(("actor",)),
    "ServiceRequest": ServedType(("subject", "performer")),
    "Slot": ServedType(),
    "Subscription": ServedType(),
    "Task": ServedType(),
}
