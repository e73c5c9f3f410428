"""The FHIR R4 (4.0.1) search parameters of every resource type the hub serves.

``RESOURCE_DEFS`` maps each resource type to its :class:`~hub.fhir.registry.ResourceDef`. The
tables live in ``search_parameters_admin`` (people, places, scheduling), ``_clinical``,
``_medication`` and ``_financial``; the security and infrastructure types are defined here.
Every definition ends with the COMMON_PARAMS (``_id``, ``_lastUpdated``, ...). Parameter names
are those of the R4 specification, except the region's ``Patient.address-district``.
"""

from __future__ import annotations

from hub.fhir import (
    search_parameters_admin,
    search_parameters_clinical,
    search_parameters_financial,
    search_parameters_medication,
)
from hub.fhir.registry import ResourceDef
from hub.fhir.search_parameters_common import (
    AGENT_WHO,
    date,
    reference,
    resource_def,
    string,
    token,
    uri,
)

# Binary has no search parameters of its own and is never in a patient compartment.
BINARY = resource_def("Binary", [])

# Served from the audit log, not written through the generic store.
AUDIT_EVENT = resource_def(
    "AuditEvent",
    [
        date("date", "recorded", "Time when the event was recorded"),
        token("type", "type", "Type/identifier of event"),
        token("subtype", "subtype", "More specific type/id for the event"),
        token("action", "action", "Type of action performed during the event"),
        token("outcome", "outcome", "Whether the event succeeded or failed"),
        token("purpose", ("purposeOfEvent", "agent.purposeOfUse"), "The purposeOfUse"),
        reference("agent", "agent.who", AGENT_WHO, "Identifier of who"),
        string("agent-name", "agent.name", "Human friendly name for the agent"),
        token("agent-role", "agent.role", "Agent role in the event"),
        token("altid", "agent.altId", "Alternative user id"),
        uri("policy", "agent.policy", "Policy that authorized the event"),
        string("address", "agent.network.address", "Identifier for the network access point"),
        reference("entity", "entity.what", (), "Specific instance of resource"),
        string("entity-name", "entity.name", "Descriptor for the entity"),
        token("entity-type", "entity.type", "Type of entity involved"),
        token("entity-role", "entity.role", "What role the entity played"),
        reference(
            "patient",
            ("agent.who", "entity.what"),
            ("Patient",),
            "A patient who acted in or is the subject of the event",
        ),
        token("site", "source.site", "Logical source location within the enterprise"),
        reference("source", "source.observer", AGENT_WHO, "The identity of the source detector"),
    ],
    patient_compartment=("patient",),
    read_only=True,
)

PROVENANCE = resource_def(
    "Provenance",
    [
        reference("target", "target", (), "Target reference(s)"),
        reference("patient", "target", ("Patient",), "Target reference(s), when a patient"),
        date("recorded", "recorded", "When the activity was recorded / updated"),
        date("when", ("occurredDateTime", "occurredPeriod"), "When the activity occurred"),
        reference("location", "location", ("Location",), "Where the activity occurred"),
        reference("agent", "agent.who", AGENT_WHO, "Who participated"),
        token("agent-type", "agent.type", "How the agent participated"),
        token("agent-role", "agent.role", "What the agent's role was"),
        reference("entity", "entity.what", (), "Identity of entity"),
        token("signature-type", "signature.type", "Indication of the reason the entity signed"),
    ],
    patient_compartment=("patient",),
)

SUBSCRIPTION = resource_def(
    "Subscription",
    [
        token("status", "status", "requested | active | error | off"),
        string("criteria", "criteria", "The search rules used to determine notifications"),
        token("type", "channel.type", "rest-hook | websocket | email | sms | message"),
        uri("url", "channel.endpoint", "The uri that will receive the notifications"),
        token("payload", "channel.payload", "The mime-type of the notification payload"),
        token("contact", "contact", "Contact details for the subscription"),
    ],
)

_ALL_DEFS: tuple[ResourceDef, ...] = (
    *search_parameters_admin.DEFS,
    *search_parameters_clinical.DEFS,
    *search_parameters_medication.DEFS,
    *search_parameters_financial.DEFS,
    BINARY,
    AUDIT_EVENT,
    PROVENANCE,
    SUBSCRIPTION,
)


def _index(defs: tuple[ResourceDef, ...]) -> dict[str, ResourceDef]:
    index: dict[str, ResourceDef] = {}
    for definition in defs:
        if definition.type in index:
            raise ValueError(f"resource type {definition.type!r} is defined twice")
        index[definition.type] = definition
    return index


RESOURCE_DEFS: dict[str, ResourceDef] = _index(_ALL_DEFS)

SUPPORTED_TYPES: tuple[str, ...] = tuple(sorted(RESOURCE_DEFS))


def get_resource_def(resource_type: str) -> ResourceDef | None:
    """The definition of ``resource_type``, or None if the hub does not serve that type."""
    return RESOURCE_DEFS.get(resource_type)
