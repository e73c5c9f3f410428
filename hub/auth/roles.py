"""Roles a token can carry, and the SMART v2 scopes each role is granted by default.

The default scope string is what a client registration gets when no narrower scope string is
configured for it; the token endpoint then narrows a client's request to it
(:func:`hub.auth.scopes.narrow`).
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    # A facility's back-end system (HIS, LIS, PACS) using SMART Backend Services.
    facility_system = "facility-system"
    practitioner = "practitioner"
    patient = "patient"
    # Reads and searches everything, changes nothing (compliance, audit office).
    auditor = "auditor"
    # Runs the hub: configuration, repairs, data corrections.
    operator = "operator"
    # The fund's auditors (医保稽核): read claims and what lies behind them, review findings.
    insurance_auditor = "insurance-auditor"
    # The patient index's data stewards (web console): read the Patients a review compares.
    data_steward = "data-steward"


# The roles that act in a facility's name: what they write carries the facility as its origin.
FACILITY_ROLES = frozenset({Role.facility_system, Role.practitioner})

DEFAULT_SCOPES: dict[Role, str] = {
    Role.facility_system: "system/*.cruds",
    Role.practitioner: "user/*.cruds",
    Role.patient: "patient/*.rs patient/Appointment.cruds patient/Consent.cruds",
    Role.auditor: "system/*.rs system/DetectedIssue.rs",
    Role.operator: "system/*.cruds system/DetectedIssue.cruds",
    # What a claim rests on, and the findings: read and search; a finding also updated (review).
    Role.insurance_auditor: " ".join(
        f"system/{t}.rs"
        for t in (
            "Claim", "ClaimResponse", "ExplanationOfBenefit", "Coverage", "Patient", "Encounter",
            "MedicationRequest", "MedicationDispense", "ChargeItem", "Organization", "Condition",
            "PaymentReconciliation",
        )
    ) + " system/DetectedIssue.rus",
    Role.data_steward: "system/Patient.rs",
}  # fmt: skip
