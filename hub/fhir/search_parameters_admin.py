"""Search parameters of the administrative resources: people, organisations, places, devices,
services and scheduling (FHIR R4 4.0.1 names, paths and targets)."""

from __future__ import annotations

from hub.fhir.registry import ResourceDef
from hub.fhir.search_parameters_common import (
    SCHEDULE_ACTORS,
    address_params,
    date,
    reference,
    resource_def,
    string,
    telecom_params,
    token,
    uri,
)

PATIENT = resource_def(
    "Patient",
    [
        token("identifier", "identifier", "A patient identifier"),
        token("active", "active", "Whether the patient record is active"),
        string("name", "name", "Any part of a name (family, given, prefix, suffix, text)"),
        string("family", "name.family", "Family name"),
        string("given", "name.given", "Given name"),
        string("phonetic", "name", "A portion of a name using a phonetic matching algorithm"),
        date("birthdate", "birthDate", "Date of birth"),
        token("gender", "gender", "Administrative gender"),
        *telecom_params(),
        *address_params(),
        # Not an R4 base parameter: 区/县 (district) matters for the region's addresses.
        string("address-district", "address.district", "District (county) in an address"),
        reference(
            "organization", "managingOrganization", ("Organization",), "Managing organization"
        ),
        reference(
            "general-practitioner",
            "generalPractitioner",
            ("Organization", "Practitioner", "PractitionerRole"),
            "Nominated primary care provider",
        ),
        token(
            "deceased",
            ("deceasedBoolean", "deceasedDateTime"),
            "true if deceasedBoolean is true or any deceasedDateTime is present",
            absent="false",
        ),
        date("death-date", "deceasedDateTime", "Date of death"),
        token("language", "communication.language", "Language of communication"),
        reference("link", "link.other", ("Patient", "RelatedPerson"), "Linked patient records"),
    ],
    # Patient/{id} itself is always in its own compartment; the server handles that.
    patient_compartment=("link",),
)

PRACTITIONER = resource_def(
    "Practitioner",
    [
        token("identifier", "identifier", "A practitioner identifier"),
        token("active", "active", "Whether the practitioner record is active"),
        string("name", "name", "Any part of a name"),
        string("family", "name.family", "Family name"),
        string("given", "name.given", "Given name"),
        string("phonetic", "name", "A portion of a name using a phonetic matching algorithm"),
        token("gender", "gender", "Administrative gender"),
        token("communication", "communication", "A language the practitioner can use"),
        *telecom_params(),
        *address_params(),
    ],
)

PRACTITIONER_ROLE = resource_def(
    "PractitionerRole",
    [
        token("identifier", "identifier", "A practitioner role identifier"),
        token("active", "active", "Whether this role is active"),
        date("date", "period", "Period during which the role is valid"),
        reference("practitioner", "practitioner", ("Practitioner",), "The practitioner"),
        reference("organization", "organization", ("Organization",), "The organization"),
        reference("location", "location", ("Location",), "Where the role is performed"),
        reference(
            "service", "healthcareService", ("HealthcareService",), "Services provided in role"
        ),
        reference("endpoint", "endpoint", ("Endpoint",), "Technical endpoints"),
        token("role", "code", "The role the practitioner performs"),
        token("specialty", "specialty", "The practitioner's specialty"),
        *telecom_params(),
    ],
)

ORGANIZATION = resource_def(
    "Organization",
    [
        token("identifier", "identifier", "An organization identifier"),
        token("active", "active", "Whether the organization record is active"),
        string("name", ("name", "alias"), "Name or alias of the organization"),
        string("phonetic", "name", "Name using a phonetic matching algorithm"),
        token("type", "type", "Kind of organization"),
        reference("partof", "partOf", ("Organization",), "Parent organization"),
        reference("endpoint", "endpoint", ("Endpoint",), "Technical endpoints"),
        *address_params(),
    ],
)

LOCATION = resource_def(
    "Location",
    [
        token("identifier", "identifier", "A location identifier"),
        string("name", ("name", "alias"), "Name or alias of the location"),
        token("status", "status", "active | suspended | inactive"),
        token("operational-status", "operationalStatus", "Operational status (beds)"),
        token("type", "type", "Type of location"),
        reference(
            "organization", "managingOrganization", ("Organization",), "Managing organization"
        ),
        reference("partof", "partOf", ("Location",), "Location this one is part of"),
        reference("endpoint", "endpoint", ("Endpoint",), "Technical endpoints"),
        *address_params(),
    ],
)

PERSON = resource_def(
    "Person",
    [
        token("identifier", "identifier", "A person identifier"),
        string("name", "name", "Any part of a name"),
        string("phonetic", "name", "A portion of a name using a phonetic matching algorithm"),
        date("birthdate", "birthDate", "Date of birth"),
        token("gender", "gender", "Administrative gender"),
        *telecom_params(),
        *address_params(),
        reference(
            "organization", "managingOrganization", ("Organization",), "Managing organization"
        ),
        reference(
            "link",
            "link.target",
            ("Practitioner", "Patient", "Person", "RelatedPerson"),
            "Any linked resource",
        ),
        reference("patient", "link.target", ("Patient",), "Linked patient"),
        reference("practitioner", "link.target", ("Practitioner",), "Linked practitioner"),
        reference("relatedperson", "link.target", ("RelatedPerson",), "Linked related person"),
    ],
    patient_compartment=("patient",),
)

DEVICE = resource_def(
    "Device",
    [
        token("identifier", "identifier", "Instance id from manufacturer, owner, and others"),
        token("status", "status", "active | inactive | entered-in-error | unknown"),
        token("type", "type", "The type of the device"),
        string(
            "device-name",
            ("deviceName.name", "type.coding.display", "type.text"),
            "A name given to the device",
        ),
        string("manufacturer", "manufacturer", "The manufacturer"),
        string("model", "modelNumber", "The model number"),
        string("udi-carrier", "udiCarrier.carrierHRF", "UDI barcode (human readable form)"),
        string("udi-di", "udiCarrier.deviceIdentifier", "UDI device identifier"),
        uri("url", "url", "Network address to contact the device"),
        reference("patient", "patient", ("Patient",), "Patient the device is affixed to"),
        reference("organization", "owner", ("Organization",), "Organization responsible"),
        reference("location", "location", ("Location",), "Where the device is found"),
    ],
)

ENDPOINT = resource_def(
    "Endpoint",
    [
        token("identifier", "identifier", "An endpoint identifier"),
        token("status", "status", "The current status of the endpoint"),
        token("connection-type", "connectionType", "Protocol/profile/standard supported"),
        token("payload-type", "payloadType", "Type of content that may be used"),
        string("name", "name", "A name that this endpoint can be identified by"),
        reference(
            "organization", "managingOrganization", ("Organization",), "Managing organization"
        ),
    ],
)

HEALTHCARE_SERVICE = resource_def(
    "HealthcareService",
    [
        token("identifier", "identifier", "External identifiers for this item"),
        token("active", "active", "Whether the service record is active"),
        string("name", "name", "Name of the service"),
        token("service-category", "category", "Service category"),
        token("service-type", "type", "Type of service"),
        token("specialty", "specialty", "Specialties handled"),
        token("characteristic", "characteristic", "Characteristics of the service"),
        token("program", "program", "Programs the service is provided under"),
        reference("organization", "providedBy", ("Organization",), "Providing organization"),
        reference("location", "location", ("Location",), "Where the service is provided"),
        reference("coverage-area", "coverageArea", ("Location",), "Area the service covers"),
        reference("endpoint", "endpoint", ("Endpoint",), "Technical endpoints"),
    ],
)

SCHEDULE = resource_def(
    "Schedule",
    [
        token("identifier", "identifier", "A schedule identifier"),
        token("active", "active", "Whether the schedule is in active use"),
        reference("actor", "actor", SCHEDULE_ACTORS, "Who or what the schedule is for"),
        date("date", "planningHorizon", "Period the schedule covers"),
        token("service-category", "serviceCategory", "High-level category"),
        token("service-type", "serviceType", "Type of appointments that can be booked"),
        token("specialty", "specialty", "Specialty of a practitioner"),
    ],
    patient_compartment=("actor",),
)

SLOT = resource_def(
    "Slot",
    [
        token("identifier", "identifier", "A slot identifier"),
        token("status", "status", "busy | free | busy-unavailable | busy-tentative"),
        date("start", "start", "Slot start date/time"),
        reference("schedule", "schedule", ("Schedule",), "The schedule the slot belongs to"),
        token("appointment-type", "appointmentType", "Style of appointment"),
        token("service-category", "serviceCategory", "High-level category"),
        token("service-type", "serviceType", "Type of appointments that can be booked"),
        token("specialty", "specialty", "Specialty of a practitioner"),
    ],
)

APPOINTMENT = resource_def(
    "Appointment",
    [
        token("identifier", "identifier", "An appointment identifier"),
        token("status", "status", "The overall status of the appointment"),
        date("date", "start", "Appointment date/time"),
        reference("actor", "participant.actor", SCHEDULE_ACTORS, "Any participant"),
        reference("patient", "participant.actor", ("Patient",), "A participating patient"),
        reference(
            "practitioner", "participant.actor", ("Practitioner",), "A participating practitioner"
        ),
        reference("location", "participant.actor", ("Location",), "A participating location"),
        token("part-status", "participant.status", "Participation status of an actor"),
        token("appointment-type", "appointmentType", "Style of appointment"),
        reference("based-on", "basedOn", ("ServiceRequest",), "The request it fulfils"),
        token("reason-code", "reasonCode", "Coded reason"),
        reference(
            "reason-reference",
            "reasonReference",
            ("Condition", "Observation", "Procedure", "ImmunizationRecommendation"),
            "Reason the appointment is to take place (resource)",
        ),
        token("service-category", "serviceCategory", "High-level category"),
        token("service-type", "serviceType", "Specific service to be performed"),
        token("specialty", "specialty", "Specialty of a practitioner required"),
        reference("slot", "slot", ("Slot",), "Slots the appointment fills"),
        reference("supporting-info", "supportingInformation", (), "Additional information"),
    ],
    patient_compartment=("actor",),
)

APPOINTMENT_RESPONSE = resource_def(
    "AppointmentResponse",
    [
        token("identifier", "identifier", "An appointment response identifier"),
        reference("appointment", "appointment", ("Appointment",), "The appointment"),
        reference("actor", "actor", SCHEDULE_ACTORS, "The responding participant"),
        reference("patient", "actor", ("Patient",), "The responding patient"),
        reference("practitioner", "actor", ("Practitioner",), "The responding practitioner"),
        reference("location", "actor", ("Location",), "The responding location"),
        token("part-status", "participantStatus", "Participation status"),
    ],
    patient_compartment=("actor",),
)

DEFS: tuple[ResourceDef, ...] = (
    PATIENT,
    PRACTITIONER,
    PRACTITIONER_ROLE,
    ORGANIZATION,
    LOCATION,
    PERSON,
    DEVICE,
    ENDPOINT,
    HEALTHCARE_SERVICE,
    SCHEDULE,
    SLOT,
    APPOINTMENT,
    APPOINTMENT_RESPONSE,
)
