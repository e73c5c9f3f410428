"""Search parameters of the medication resources: Medication, MedicationRequest and
MedicationDispense (FHIR R4 4.0.1 names, paths and targets)."""

from __future__ import annotations

from hub.fhir.registry import ResourceDef
from hub.fhir.search_parameters_common import (
    PRACTITIONER_ORG_ROLE,
    date,
    reference,
    resource_def,
    token,
)

MEDICATION_REQUEST = resource_def(
    "MedicationRequest",
    [
        token("identifier", "identifier", "Return prescriptions with this external identifier"),
        token("status", "status", "Status of the prescription"),
        token("intent", "intent", "Intent of the prescription"),
        token("priority", "priority", "routine | urgent | asap | stat"),
        token("category", "category", "Type of medication usage"),
        token("code", "medicationCodeableConcept", "Medication code"),
        reference("medication", "medicationReference", ("Medication",), "Medication resource"),
        date("authoredon", "authoredOn", "Prescription creation date"),
        date("date", "dosageInstruction.timing.event", "Scheduled administration date(s)"),
        reference("patient", "subject", ("Patient",), "Patient the prescription is for"),
        reference("subject", "subject", ("Patient", "Group"), "Who the prescription is for"),
        reference("encounter", "encounter", ("Encounter",), "Encounter created as part of"),
        reference(
            "requester",
            "requester",
            (*PRACTITIONER_ORG_ROLE, "Patient", "Device", "RelatedPerson"),
            "Who ordered the medication",
        ),
        reference(
            "intended-performer",
            "performer",
            (*PRACTITIONER_ORG_ROLE, "Patient", "Device", "RelatedPerson", "CareTeam"),
            "Intended performer of administration",
        ),
        token("intended-performertype", "performerType", "Type of intended performer"),
        reference(
            "intended-dispenser",
            "dispenseRequest.performer",
            ("Organization",),
            "Intended dispenser",
        ),
    ],
    patient_compartment=("subject",),
)

MEDICATION_DISPENSE = resource_def(
    "MedicationDispense",
    [
        token("identifier", "identifier", "Dispense identifier"),
        token("status", "status", "Status of the dispense"),
        token("type", "type", "Type of dispense (trial fill, partial fill, ...)"),
        token("code", "medicationCodeableConcept", "Medication code"),
        reference("medication", "medicationReference", ("Medication",), "Medication resource"),
        reference("patient", "subject", ("Patient",), "Patient the dispense is for"),
        reference("subject", "subject", ("Patient", "Group"), "Who the dispense is for"),
        reference("context", "context", ("Encounter", "EpisodeOfCare"), "Encounter / episode"),
        reference(
            "performer",
            "performer.actor",
            (*PRACTITIONER_ORG_ROLE, "Patient", "Device", "RelatedPerson"),
            "Who performed the dispense",
        ),
        reference(
            "prescription",
            "authorizingPrescription",
            ("MedicationRequest",),
            "The authorizing prescription",
        ),
        reference("receiver", "receiver", ("Patient", "Practitioner"), "Who collected it"),
        reference(
            "responsibleparty",
            "substitution.responsibleParty",
            ("Practitioner", "PractitionerRole"),
            "Responsible for the substitution",
        ),
        reference("destination", "destination", ("Location",), "Where it was sent"),
        date("whenhandedover", "whenHandedOver", "When handed over to the patient"),
        date("whenprepared", "whenPrepared", "When prepared"),
    ],
    patient_compartment=("subject", "patient", "receiver"),
)

MEDICATION = resource_def(
    "Medication",
    [
        token("identifier", "identifier", "Medication identifier"),
        token("code", "code", "Medication code"),
        token("status", "status", "active | inactive | entered-in-error"),
        token("form", "form", "Dose form"),
        reference("manufacturer", "manufacturer", ("Organization",), "Manufacturer"),
        reference(
            "ingredient", "ingredient.itemReference", ("Substance", "Medication"), "Ingredient"
        ),
        token("ingredient-code", "ingredient.itemCodeableConcept", "Ingredient code"),
        token("lot-number", "batch.lotNumber", "Batch lot number"),
        date("expiration-date", "batch.expirationDate", "Batch expiration date"),
    ],
)

DEFS: tuple[ResourceDef, ...] = (
    MEDICATION_REQUEST,
    MEDICATION_DISPENSE,
    MEDICATION,
)
