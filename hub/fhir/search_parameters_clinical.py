"""Search parameters of the clinical, workflow, document and consent resources (FHIR R4 4.0.1
names, paths and targets). Timing-typed choices (``effectiveTiming``, ``occurrenceTiming``) are
not indexed as dates."""

from __future__ import annotations

from hub.fhir.registry import ResourceDef
from hub.fhir.search_parameters_common import (
    PRACTITIONER_ORG_ROLE,
    date,
    quantity,
    reference,
    resource_def,
    string,
    token,
    uri,
)

ENCOUNTER = resource_def(
    "Encounter",
    [
        token("identifier", "identifier", "An encounter identifier"),
        token("status", "status", "planned | arrived | triaged | in-progress | ..."),
        token("class", "class", "Classification of the encounter"),
        token("type", "type", "Specific type of encounter"),
        date("date", "period", "A date within the period the encounter lasted"),
        quantity("length", "length", "Length of encounter"),
        reference("patient", "subject", ("Patient",), "The patient present at the encounter"),
        reference("subject", "subject", ("Patient", "Group"), "The patient or group present"),
        reference(
            "participant",
            "participant.individual",
            ("Practitioner", "PractitionerRole", "RelatedPerson"),
            "Persons involved in the encounter other than the patient",
        ),
        reference(
            "practitioner", "participant.individual", ("Practitioner",), "Practitioner involved"
        ),
        token("participant-type", "participant.type", "Role of participant in encounter"),
        reference("location", "location.location", ("Location",), "Location of the encounter"),
        date("location-period", "location.period", "Time period during which at the location"),
        reference(
            "service-provider", "serviceProvider", ("Organization",), "Responsible organization"
        ),
        reference("part-of", "partOf", ("Encounter",), "Encounter this one is part of"),
        reference("based-on", "basedOn", ("ServiceRequest",), "The request it fulfils"),
        reference("appointment", "appointment", ("Appointment",), "Appointment scheduled"),
        reference("episode-of-care", "episodeOfCare", ("EpisodeOfCare",), "Episode(s) of care"),
        reference("account", "account", ("Account",), "Accounts for billing"),
        reference(
            "diagnosis", "diagnosis.condition", ("Procedure", "Condition"), "Diagnosis or procedure"
        ),
        token("reason-code", "reasonCode", "Coded reason the encounter takes place"),
        reference(
            "reason-reference",
            "reasonReference",
            ("Condition", "Procedure", "Observation", "ImmunizationRecommendation"),
            "Reason the encounter takes place (resource)",
        ),
        token("special-arrangement", "hospitalization.specialArrangement", "Special arrangements"),
    ],
    patient_compartment=("patient",),
)

OBSERVATION = resource_def(
    "Observation",
    [
        token("identifier", "identifier", "The unique id for a particular observation"),
        token("status", "status", "The status of the observation"),
        token("category", "category", "The classification of the type of observation"),
        token("code", "code", "The code of the observation type"),
        token("combo-code", ("code", "component.code"), "Observation or component code"),
        token("component-code", "component.code", "The component code"),
        date(
            "date",
            ("effectiveDateTime", "effectivePeriod", "effectiveInstant"),
            "Obtained date/time",
        ),
        reference("patient", "subject", ("Patient",), "The subject, when it is a patient"),
        reference("subject", "subject", ("Patient", "Group", "Device", "Location"), "The subject"),
        reference("encounter", "encounter", ("Encounter",), "Related encounter"),
        reference(
            "performer",
            "performer",
            (
                "Practitioner",
                "PractitionerRole",
                "Organization",
                "CareTeam",
                "Patient",
                "RelatedPerson",
            ),
            "Who performed the observation",
        ),
        reference(
            "based-on",
            "basedOn",
            (
                "CarePlan",
                "DeviceRequest",
                "ImmunizationRecommendation",
                "MedicationRequest",
                "NutritionOrder",
                "ServiceRequest",
            ),
            "Plan, proposal or order fulfilled",
        ),
        reference(
            "part-of",
            "partOf",
            (
                "MedicationAdministration",
                "MedicationDispense",
                "MedicationStatement",
                "Procedure",
                "Immunization",
                "ImagingStudy",
            ),
            "Part of referenced event",
        ),
        reference(
            "has-member",
            "hasMember",
            ("Observation", "QuestionnaireResponse", "MolecularSequence"),
            "Related resource that belongs to the observation group",
        ),
        reference(
            "derived-from",
            "derivedFrom",
            (
                "DocumentReference",
                "ImagingStudy",
                "Media",
                "QuestionnaireResponse",
                "Observation",
                "MolecularSequence",
            ),
            "Related measurements the observation is made from",
        ),
        reference("focus", "focus", (), "What the observation is about, when not the subject"),
        reference("device", "device", ("Device", "DeviceMetric"), "The measuring device"),
        reference("specimen", "specimen", ("Specimen",), "Specimen used"),
        token("method", "method", "Method used"),
        token("data-absent-reason", "dataAbsentReason", "Why a value is missing"),
        quantity("value-quantity", "valueQuantity", "Quantity value"),
        quantity("component-value-quantity", "component.valueQuantity", "Component quantity value"),
        quantity(
            "combo-value-quantity",
            ("valueQuantity", "component.valueQuantity"),
            "Observation or component quantity value",
        ),
        token("value-concept", "valueCodeableConcept", "Coded value"),
        token("component-value-concept", "component.valueCodeableConcept", "Component coded value"),
        date("value-date", ("valueDateTime", "valuePeriod"), "Date/time or period value"),
        string("value-string", "valueString", "String value"),
    ],
    patient_compartment=("subject", "performer"),
)

DIAGNOSTIC_REPORT = resource_def(
    "DiagnosticReport",
    [
        token("identifier", "identifier", "An identifier for the report"),
        token("status", "status", "The status of the report"),
        token("category", "category", "Which diagnostic discipline/department created it"),
        token("code", "code", "The code for the report"),
        token("conclusion", "conclusionCode", "A coded conclusion on the report"),
        date("date", ("effectiveDateTime", "effectivePeriod"), "Clinically relevant time"),
        date("issued", "issued", "When the report was issued"),
        reference("patient", "subject", ("Patient",), "The subject, when it is a patient"),
        reference("subject", "subject", ("Patient", "Group", "Device", "Location"), "The subject"),
        reference("encounter", "encounter", ("Encounter",), "Related encounter"),
        reference(
            "based-on",
            "basedOn",
            (
                "CarePlan",
                "ImmunizationRecommendation",
                "MedicationRequest",
                "NutritionOrder",
                "ServiceRequest",
            ),
            "Reference to the service request",
        ),
        reference(
            "performer",
            "performer",
            (*PRACTITIONER_ORG_ROLE, "CareTeam"),
            "Who is responsible for the report",
        ),
        reference(
            "results-interpreter",
            "resultsInterpreter",
            (*PRACTITIONER_ORG_ROLE, "CareTeam"),
            "Who interpreted the results",
        ),
        reference("result", "result", ("Observation",), "Atomic results"),
        reference("specimen", "specimen", ("Specimen",), "Specimens the report is based on"),
        reference("media", "media.link", ("Media",), "Key images"),
    ],
    patient_compartment=("subject",),
)

CONDITION = resource_def(
    "Condition",
    [
        token("identifier", "identifier", "A condition identifier"),
        token("clinical-status", "clinicalStatus", "The clinical status of the condition"),
        token("verification-status", "verificationStatus", "Verification status"),
        token("category", "category", "The category of the condition"),
        token("severity", "severity", "The severity of the condition"),
        token("code", "code", "Code for the condition"),
        token("body-site", "bodySite", "Anatomical location"),
        token("stage", "stage.summary", "Simple summary (disease specific)"),
        token("evidence", "evidence.code", "Manifestation/symptom"),
        reference("evidence-detail", "evidence.detail", (), "Supporting information"),
        reference("patient", "subject", ("Patient",), "Who has the condition"),
        reference("subject", "subject", ("Patient", "Group"), "Who has the condition"),
        reference("encounter", "encounter", ("Encounter",), "Encounter created as part of"),
        reference(
            "asserter",
            "asserter",
            ("Practitioner", "Patient", "PractitionerRole", "RelatedPerson"),
            "Person who asserts this condition",
        ),
        date("onset-date", ("onsetDateTime", "onsetPeriod"), "Date/time of onset"),
        # R4 also lists onsetRange / abatementRange; a Range is not indexed as a quantity.
        quantity("onset-age", "onsetAge", "Onset as an age"),
        string("onset-info", "onsetString", "Onset as text"),
        date("abatement-date", ("abatementDateTime", "abatementPeriod"), "Date/time of abatement"),
        quantity("abatement-age", "abatementAge", "Abatement as an age"),
        string("abatement-string", "abatementString", "Abatement as text"),
        date("recorded-date", "recordedDate", "Date record was first recorded"),
    ],
    patient_compartment=("patient", "asserter"),
)

SERVICE_REQUEST = resource_def(
    "ServiceRequest",
    [
        token("identifier", "identifier", "Identifiers assigned to this order"),
        token("requisition", "requisition", "Composite request this is part of"),
        token("status", "status", "draft | active | on-hold | revoked | completed | ..."),
        token("intent", "intent", "proposal | plan | directive | order | ..."),
        token("priority", "priority", "routine | urgent | asap | stat"),
        token("category", "category", "Classification of service"),
        token("code", "code", "What is being requested/ordered"),
        token("body-site", "bodySite", "Where the procedure is going to be done"),
        token("performer-type", "performerType", "Performer role"),
        date("authored", "authoredOn", "Date request signed"),
        date("occurrence", ("occurrenceDateTime", "occurrencePeriod"), "When service occurs"),
        reference("patient", "subject", ("Patient",), "The subject, when it is a patient"),
        reference(
            "subject", "subject", ("Patient", "Group", "Location", "Device"), "Service subject"
        ),
        reference("encounter", "encounter", ("Encounter",), "Encounter the request is part of"),
        reference(
            "requester",
            "requester",
            (*PRACTITIONER_ORG_ROLE, "Patient", "Device", "RelatedPerson"),
            "Who/what is requesting service",
        ),
        reference(
            "performer",
            "performer",
            (
                *PRACTITIONER_ORG_ROLE,
                "CareTeam",
                "HealthcareService",
                "Patient",
                "Device",
                "RelatedPerson",
            ),
            "Requested performer",
        ),
        reference(
            "based-on",
            "basedOn",
            ("CarePlan", "ServiceRequest", "MedicationRequest"),
            "What the request fulfils",
        ),
        reference("replaces", "replaces", ("ServiceRequest",), "What the request replaces"),
        reference("specimen", "specimen", ("Specimen",), "Specimen to be tested"),
        uri("instantiates-uri", "instantiatesUri", "Instantiates external protocol"),
    ],
    patient_compartment=("subject", "performer"),
)

TASK = resource_def(
    "Task",
    [
        token("identifier", "identifier", "Business identifier"),
        token("group-identifier", "groupIdentifier", "Requisition or grouper id"),
        token("status", "status", "Task status"),
        token("business-status", "businessStatus", "Business status"),
        token("intent", "intent", "Task intent"),
        token("priority", "priority", "Task priority"),
        token("code", "code", "Task code"),
        token("performer", "performerType", "Recommended type of performer"),
        date("authored-on", "authoredOn", "Creation date"),
        date("modified", "lastModified", "Last modification date"),
        date("period", "executionPeriod", "Period the task is/was underway"),
        reference("patient", "for", ("Patient",), "Beneficiary, when it is a patient"),
        reference("subject", "for", (), "Beneficiary of the task"),
        reference("focus", "focus", (), "What the task is acting on"),
        reference("based-on", "basedOn", (), "Requests the task is based on"),
        reference("part-of", "partOf", ("Task",), "Composite task"),
        reference("encounter", "encounter", ("Encounter",), "Healthcare event"),
        reference(
            "requester",
            "requester",
            (*PRACTITIONER_ORG_ROLE, "Device", "Patient", "RelatedPerson"),
            "Who is asking for the task to be done",
        ),
        reference(
            "owner",
            "owner",
            (
                *PRACTITIONER_ORG_ROLE,
                "CareTeam",
                "HealthcareService",
                "Patient",
                "Device",
                "RelatedPerson",
            ),
            "Responsible individual",
        ),
    ],
    # R4 lists Task among the resources that are never in the Patient compartment.
)

COMMUNICATION = resource_def(
    "Communication",
    [
        token("identifier", "identifier", "Unique identifier"),
        token("status", "status", "Communication status"),
        token("category", "category", "Message category"),
        token("medium", "medium", "Channel of transmission"),
        date("sent", "sent", "When sent"),
        date("received", "received", "When received"),
        reference("patient", "subject", ("Patient",), "Focus of the message, when a patient"),
        reference("subject", "subject", ("Patient", "Group"), "Focus of the message"),
        reference("encounter", "encounter", ("Encounter",), "Encounter created as part of"),
        reference(
            "sender",
            "sender",
            (*PRACTITIONER_ORG_ROLE, "Device", "Patient", "HealthcareService", "RelatedPerson"),
            "Message sender",
        ),
        reference(
            "recipient",
            "recipient",
            (
                *PRACTITIONER_ORG_ROLE,
                "Device",
                "Patient",
                "Group",
                "CareTeam",
                "HealthcareService",
                "RelatedPerson",
            ),
            "Message recipient",
        ),
        reference("based-on", "basedOn", (), "Request fulfilled by this communication"),
        reference("part-of", "partOf", (), "Part of this action"),
        uri("instantiates-uri", "instantiatesUri", "Instantiates external protocol"),
    ],
    patient_compartment=("subject", "sender", "recipient"),
)

DOCUMENT_REFERENCE = resource_def(
    "DocumentReference",
    [
        token("identifier", ("masterIdentifier", "identifier"), "Master version or other id"),
        token("status", "status", "current | superseded | entered-in-error"),
        token("type", "type", "Kind of document"),
        token("category", "category", "Categorization of document"),
        date("date", "date", "When this document reference was created"),
        string("description", "description", "Human-readable description"),
        token("security-label", "securityLabel", "Document security tags"),
        token("contenttype", "content.attachment.contentType", "Mime type of the content"),
        token("language", "content.attachment.language", "Language of the content"),
        uri("location", "content.attachment.url", "Uri where the data can be found"),
        token("format", "content.format", "Format/content rules for the document"),
        reference("patient", "subject", ("Patient",), "Who the document is about (patient)"),
        reference(
            "subject",
            "subject",
            ("Practitioner", "Group", "Device", "Patient"),
            "Who/what the document is about",
        ),
        reference(
            "author",
            "author",
            (*PRACTITIONER_ORG_ROLE, "Device", "Patient", "RelatedPerson"),
            "Who and/or what authored the document",
        ),
        reference(
            "authenticator", "authenticator", PRACTITIONER_ORG_ROLE, "Who attested the document"
        ),
        reference("custodian", "custodian", ("Organization",), "Maintains the document"),
        reference(
            "encounter",
            "context.encounter",
            ("Encounter", "EpisodeOfCare"),
            "Context of the document content",
        ),
        token("event", "context.event", "Main clinical acts documented"),
        token("facility", "context.facilityType", "Kind of facility where patient was seen"),
        token("setting", "context.practiceSetting", "Additional details about the setting"),
        date("period", "context.period", "Time of service documented"),
        reference("related", "context.related", (), "Related identifiers or resources"),
        reference(
            "relatesto", "relatesTo.target", ("DocumentReference",), "Target of the relationship"
        ),
        token("relation", "relatesTo.code", "replaces | transforms | signs | appends"),
    ],
    patient_compartment=("subject", "author"),
)

CONSENT = resource_def(
    "Consent",
    [
        token("identifier", "identifier", "Identifier for this record"),
        token("status", "status", "draft | proposed | active | rejected | inactive | ..."),
        token("scope", "scope", "Which of the four areas this resource covers"),
        token("category", "category", "Classification of the consent statement"),
        date("date", "dateTime", "When this consent was created or indexed"),
        reference("patient", "patient", ("Patient",), "Who the consent applies to"),
        reference(
            "consentor",
            "performer",
            ("Organization", "Patient", "Practitioner", "RelatedPerson", "PractitionerRole"),
            "Who is agreeing to the policy and rules",
        ),
        reference("organization", "organization", ("Organization",), "Custodian of the consent"),
        reference(
            "source-reference",
            "sourceReference",
            ("Consent", "DocumentReference", "Contract", "QuestionnaireResponse"),
            "Source from which this consent is taken",
        ),
        token("action", "provision.action", "Actions controlled by this rule"),
        reference(
            "actor",
            "provision.actor.reference",
            (
                *PRACTITIONER_ORG_ROLE,
                "Device",
                "Group",
                "CareTeam",
                "Patient",
                "RelatedPerson",
            ),
            "Resource for the actor (or group, by role)",
        ),
        reference("data", "provision.data.reference", (), "The actual data reference"),
        date("period", "provision.period", "Timeframe for this rule"),
        token("purpose", "provision.purpose", "Context of activities covered by this rule"),
        token("security-label", "provision.securityLabel", "Security labels that define data"),
    ],
    patient_compartment=("patient",),
)

DEFS: tuple[ResourceDef, ...] = (
    ENCOUNTER,
    OBSERVATION,
    DIAGNOSTIC_REPORT,
    CONDITION,
    SERVICE_REQUEST,
    TASK,
    COMMUNICATION,
    DOCUMENT_REFERENCE,
    CONSENT,
)
