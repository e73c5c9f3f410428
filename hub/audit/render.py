"""An audit record as a FHIR R4 AuditEvent (IHE BALP shapes where they fit).

Who: the client (``agent[0]``, identified by client id, its role and facility); when its token
named the practitioner it acted for (``hub.auth.acting``), a second agent ``who`` that
``Practitioner/<id>``, ``requestor`` true (the client then is not the requestor).

Where the consent fields go:

- purpose of use: ``agent.purposeOfUse`` (v3-ActReason), the break-glass reason as its ``text``;
- break-glass (an emergency purpose that overrode the consent decision): ``purposeOfEvent``
  ETREAT with the reason, and the extension ``audit-break-glass`` (``valueBoolean`` true);
- the consent decision: the extension ``audit-consent-decision`` (``valueCode`` permit, deny,
  permit-with-redaction);
- the consents the decision rested on: an ``entity`` each, type ``Consent`` (resource-types),
  role 13 Security Resource (object-role);
- the resources withheld: an ``entity`` each with ``description`` "withheld by consent".

A facility reading its own accesses sees no Consent named (``name_consents``).
A patient's own access log (``for_patient``) shows only what concerns that patient: records that
also concern other patients keep the agent, time, purpose and outcome, but name no resources,
consents or other patients; no record shows the caller's network address.
"""

from __future__ import annotations

import json
from typing import Any

from hub.audit.models import AuditRecord

DCM = "http://dicom.nema.org/resources/ontology/DCM"
RESTFUL = "http://hl7.org/fhir/restful-interaction"
PURPOSE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
ROLE_CLASS = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
WITHHELD = "withheld by consent"


def _extension(base_url: str, name: str) -> str:
    return f"{base_url}/StructureDefinition/{name}"


def _purposes(rec: AuditRecord) -> list[dict[str, Any]]:
    if not rec.purpose_of_use:
        return []
    purpose: dict[str, Any] = {"coding": [{"system": PURPOSE, "code": rec.purpose_of_use}]}
    if rec.break_glass_reason:
        purpose["text"] = rec.break_glass_reason
    return [purpose]


def _agents(rec: AuditRecord, base_url: str, for_patient: str | None) -> list[dict[str, Any]]:
    """The client (first), and the practitioner it acted for, who then is the requestor."""
    client: dict[str, Any] = {
        "type": {"text": rec.role},
        "who": {
            "identifier": {"system": f"{base_url}/client", "value": rec.client_id},
            "display": f"{rec.role} @ {rec.facility}",
        },
        "requestor": rec.practitioner is None,
    }
    if purposes := _purposes(rec):
        client["purposeOfUse"] = purposes
    if rec.source_address and for_patient is None:
        client["network"] = {"address": rec.source_address, "type": "2"}
    if rec.practitioner is None:
        return [client]
    person: dict[str, Any] = {
        "type": {"coding": [{"system": ROLE_CLASS, "code": "PROV", "display": "provider"}]},
        "who": {"reference": rec.practitioner},
        "requestor": True,
    }
    if purposes:
        person["purposeOfUse"] = purposes
    return [client, person]


def _entities(
    rec: AuditRecord, for_patient: str | None, name_consents: bool
) -> list[dict[str, Any]]:
    patients: list[str] = json.loads(rec.patients)
    resources: list[str] = []
    consents: list[str] = []
    denied: list[str] = []
    if for_patient is not None and patients != [for_patient]:
        # Also about other patients: name only the caller, nothing that might be someone else's.
        patients = [for_patient]
    else:
        resources = json.loads(rec.resources)
        consents = json.loads(rec.consents) if rec.consents and name_consents else []
        denied = json.loads(rec.denied) if rec.denied else []
    entities: list[dict[str, Any]] = [{"what": {"reference": ref}} for ref in resources]
    entities += [
        {"what": {"reference": f"Patient/{p}"}, "role": {"code": "1", "display": "Patient"}}
        for p in patients
    ]
    entities += [
        {
            "what": {"reference": ref},
            "type": {"system": RESOURCE_TYPES, "code": "Consent"},
            "role": {"system": OBJECT_ROLE, "code": "13", "display": "Security Resource"},
        }
        for ref in consents
    ]
    entities += [{"what": {"reference": ref}, "description": WITHHELD} for ref in denied]
    return entities


# The FHIR restful-interaction codes; the hub's own events (token, disclose: a message pushed to
# a facility) are coded in the hub's system instead.
_RESTFUL_CODES = frozenset(
    {"read", "vread", "update", "patch", "delete", "history", "history-instance",
     "history-type", "history-system", "create", "search", "search-type", "search-system",
     "capabilities", "transaction", "batch", "operation"}
)  # fmt: skip


def _subtype_system(interaction: str, base_url: str) -> str:
    if interaction in _RESTFUL_CODES:
        return RESTFUL
    return f"{base_url}/CodeSystem/audit-interaction"


def to_audit_event(
    rec: AuditRecord,
    base_url: str,
    *,
    for_patient: str | None = None,
    name_consents: bool = True,
) -> dict[str, Any]:
    """``rec`` as an AuditEvent. ``name_consents`` False (a facility reading its own log):
    the Consents a decision rested on are left out -- a refused facility must not learn which
    Consent refused it, nor its id (the way to tamper with it)."""
    extensions: list[dict[str, Any]] = []
    if rec.hash is not None:  # None until the chainer links the record
        chain_hash = {"url": _extension(base_url, "audit-chain-hash"), "valueString": rec.hash}
        extensions.append(chain_hash)
    if rec.decision:
        extensions.append(
            {"url": _extension(base_url, "audit-consent-decision"), "valueCode": rec.decision}
        )
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(rec.seq),
        "type": {"system": DCM, "code": "110110", "display": "Patient Record"},
        "subtype": [
            {"system": _subtype_system(rec.interaction, base_url), "code": rec.interaction}
        ],
        "action": rec.action,
        "recorded": rec.recorded.isoformat(),
        "outcome": rec.outcome,
        "agent": _agents(rec, base_url, for_patient),
        "source": {"observer": {"display": "Yichang Regional Health Hub"}, "site": rec.facility},
        "extension": extensions,
    }
    if rec.break_glass:
        extensions.append({"url": _extension(base_url, "audit-break-glass"), "valueBoolean": True})
        emergency: dict[str, Any] = {"coding": [{"system": PURPOSE, "code": "ETREAT"}]}
        if rec.break_glass_reason:
            emergency["text"] = rec.break_glass_reason
        event["purposeOfEvent"] = [emergency]
    if rec.outcome_text:
        event["outcomeDesc"] = rec.outcome_text
    entities = _entities(rec, for_patient, name_consents)
    if entities:
        event["entity"] = entities
    if not extensions:  # a record not linked yet, without a decision: FHIR has no empty arrays
        del event["extension"]
    return event
