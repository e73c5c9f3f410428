"""Search parameters of the financial resources: coverage, eligibility, claims and charges
(FHIR R4 4.0.1 names, paths and targets)."""

from __future__ import annotations

from hub.fhir.registry import ResourceDef
from hub.fhir.search_parameters_common import (
    PRACTITIONER_ORG_ROLE,
    PRACTITIONER_ROLE,
    date,
    number,
    quantity,
    reference,
    resource_def,
    string,
    token,
)

_PAYEE_PARTY = (*PRACTITIONER_ORG_ROLE, "Patient", "RelatedPerson")

COVERAGE = resource_def(
    "Coverage",
    [
        token("identifier", "identifier", "The primary identifier of the insured and coverage"),
        token("status", "status", "The status of the coverage"),
        token("type", "type", "The kind of coverage (health plan, auto, ...)"),
        reference("beneficiary", "beneficiary", ("Patient",), "Covered party"),
        reference("patient", "beneficiary", ("Patient",), "Retrieve coverages for a patient"),
        reference(
            "payor", "payor", ("Organization", "Patient", "RelatedPerson"), "Issuer or payer"
        ),
        reference(
            "policy-holder",
            "policyHolder",
            ("Organization", "Patient", "RelatedPerson"),
            "Owner of the policy",
        ),
        reference("subscriber", "subscriber", ("Patient", "RelatedPerson"), "Subscriber"),
        token("class-type", "class.type", "Coverage class (group, plan, ...)"),
        string("class-value", "class.value", "Value of the class (plan number, ...)"),
        string("dependent", "dependent", "Dependent number"),
    ],
    patient_compartment=("policy-holder", "subscriber", "beneficiary", "payor"),
)

COVERAGE_ELIGIBILITY_REQUEST = resource_def(
    "CoverageEligibilityRequest",
    [
        token("identifier", "identifier", "The business identifier of the eligibility request"),
        token("status", "status", "The status of the eligibility request"),
        date("created", "created", "The creation date for the request"),
        reference("patient", "patient", ("Patient",), "The reference to the patient"),
        reference("provider", "provider", PRACTITIONER_ORG_ROLE, "Responsible provider"),
        reference("enterer", "enterer", PRACTITIONER_ROLE, "Party who created the request"),
        reference("facility", "facility", ("Location",), "Facility for the products/services"),
    ],
    patient_compartment=("patient",),
)

COVERAGE_ELIGIBILITY_RESPONSE = resource_def(
    "CoverageEligibilityResponse",
    [
        token("identifier", "identifier", "The business identifier"),
        token("status", "status", "The status of the response"),
        token("outcome", "outcome", "The processing outcome"),
        string("disposition", "disposition", "The contents of the disposition message"),
        date("created", "created", "The creation date"),
        reference("patient", "patient", ("Patient",), "The reference to the patient"),
        reference("insurer", "insurer", ("Organization",), "The organization which responded"),
        reference("request", "request", ("CoverageEligibilityRequest",), "The eligibility request"),
        reference("requestor", "requestor", PRACTITIONER_ORG_ROLE, "The requesting provider"),
    ],
    patient_compartment=("patient",),
)

CLAIM = resource_def(
    "Claim",
    [
        token("identifier", "identifier", "The primary identifier of the claim"),
        token("status", "status", "The status of the claim"),
        token("use", "use", "claim | preauthorization | predetermination"),
        token("priority", "priority", "Processing priority requested"),
        date("created", "created", "The creation date for the claim"),
        reference("patient", "patient", ("Patient",), "Patient receiving the services"),
        reference("provider", "provider", PRACTITIONER_ORG_ROLE, "Provider responsible"),
        reference("insurer", "insurer", ("Organization",), "The target payor/insurer"),
        reference("enterer", "enterer", PRACTITIONER_ROLE, "The party responsible for entry"),
        reference("facility", "facility", ("Location",), "Facility where services were provided"),
        reference("payee", "payee.party", _PAYEE_PARTY, "The party receiving any payment"),
        reference(
            "care-team", "careTeam.provider", PRACTITIONER_ORG_ROLE, "Member of the care team"
        ),
        reference("encounter", "item.encounter", ("Encounter",), "Encounters of the items"),
        reference("item-udi", "item.udi", ("Device",), "UDI of a line item"),
        reference("detail-udi", "item.detail.udi", ("Device",), "UDI of a line item detail"),
        reference("subdetail-udi", "item.detail.subDetail.udi", ("Device",), "UDI of a sub-detail"),
        reference("procedure-udi", "procedure.udi", ("Device",), "UDI of a procedure"),
    ],
    patient_compartment=("patient", "payee"),
)

CLAIM_RESPONSE = resource_def(
    "ClaimResponse",
    [
        token("identifier", "identifier", "The identity of the claim response"),
        token("status", "status", "The status of the claim response"),
        token("use", "use", "claim | preauthorization | predetermination"),
        token("outcome", "outcome", "The processing outcome"),
        string("disposition", "disposition", "The contents of the disposition message"),
        date("created", "created", "The creation date"),
        date("payment-date", "payment.date", "The expected payment date"),
        reference("patient", "patient", ("Patient",), "The subject of care"),
        reference("insurer", "insurer", ("Organization",), "The organization which generated it"),
        reference("request", "request", ("Claim",), "The claim reference"),
        reference("requestor", "requestor", PRACTITIONER_ORG_ROLE, "The provider of the claim"),
    ],
    patient_compartment=("patient",),
)

EXPLANATION_OF_BENEFIT = resource_def(
    "ExplanationOfBenefit",
    [
        token("identifier", "identifier", "The business identifier of the EOB"),
        token("status", "status", "Status of the instance"),
        string("disposition", "disposition", "The contents of the disposition message"),
        date("created", "created", "The creation date for the EOB"),
        reference("patient", "patient", ("Patient",), "The reference to the patient"),
        reference("provider", "provider", PRACTITIONER_ORG_ROLE, "The provider of the claim"),
        reference("enterer", "enterer", PRACTITIONER_ROLE, "The party responsible for entry"),
        reference("facility", "facility", ("Location",), "Facility responsible for services"),
        reference("payee", "payee.party", _PAYEE_PARTY, "The party receiving any payment"),
        reference("claim", "claim", ("Claim",), "The reference to the claim"),
        reference("coverage", "insurance.coverage", ("Coverage",), "The plan under which paid"),
        reference(
            "care-team", "careTeam.provider", PRACTITIONER_ORG_ROLE, "Member of the care team"
        ),
        reference("encounter", "item.encounter", ("Encounter",), "Encounters of the items"),
        reference("item-udi", "item.udi", ("Device",), "UDI of a line item"),
        reference("detail-udi", "item.detail.udi", ("Device",), "UDI of a line item detail"),
        reference("subdetail-udi", "item.detail.subDetail.udi", ("Device",), "UDI of a sub-detail"),
        reference("procedure-udi", "procedure.udi", ("Device",), "UDI of a procedure"),
    ],
    patient_compartment=("patient", "payee"),
)

CHARGE_ITEM = resource_def(
    "ChargeItem",
    [
        token("identifier", "identifier", "Business identifier for the item"),
        token("code", "code", "A code that identifies the charge"),
        date("occurrence", ("occurrenceDateTime", "occurrencePeriod"), "When the charged service"),
        date("entered-date", "enteredDate", "Date the charge item was entered"),
        quantity("quantity", "quantity", "Quantity of which the charge item has been serviced"),
        quantity("price-override", "priceOverride", "Price overriding the associated rules"),
        number("factor-override", "factorOverride", "Factor overriding the associated rules"),
        reference("patient", "subject", ("Patient",), "Individual service was done for/to"),
        reference("subject", "subject", ("Patient", "Group"), "Individual or group charged"),
        reference(
            "context", "context", ("Encounter", "EpisodeOfCare"), "Encounter / episode of care"
        ),
        reference("account", "account", ("Account",), "Account to place this charge"),
        reference(
            "enterer",
            "enterer",
            (*PRACTITIONER_ORG_ROLE, "Patient", "Device", "RelatedPerson"),
            "Individual who entered the charge item",
        ),
        reference(
            "performer-actor",
            "performer.actor",
            (*PRACTITIONER_ORG_ROLE, "CareTeam", "Patient", "Device", "RelatedPerson"),
            "Individual who performed the procedure",
        ),
        token("performer-function", "performer.function", "What type of performance was done"),
        reference(
            "performing-organization",
            "performingOrganization",
            ("Organization",),
            "Organization providing the charged service",
        ),
        reference(
            "requesting-organization",
            "requestingOrganization",
            ("Organization",),
            "Organization requesting the charged service",
        ),
        reference(
            "service",
            "service",
            (
                "DiagnosticReport",
                "ImagingStudy",
                "Immunization",
                "MedicationAdministration",
                "MedicationDispense",
                "Observation",
                "Procedure",
                "SupplyDelivery",
            ),
            "Which rendered service is being charged",
        ),
    ],
    patient_compartment=("subject",),
)

DEFS: tuple[ResourceDef, ...] = (
    COVERAGE,
    COVERAGE_ELIGIBILITY_REQUEST,
    COVERAGE_ELIGIBILITY_RESPONSE,
    CLAIM,
    CLAIM_RESPONSE,
    EXPLANATION_OF_BENEFIT,
    CHARGE_ITEM,
)
