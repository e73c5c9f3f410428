"""Schedule, Slot and Appointment as FHIR R4 resources: built and read here, pure.

Capacity, the referral share and the fee class have no element in R4 Slot; they travel as
extensions under the hub's namespace, so any FHIR client sees them and the ledger is rebuilt
from the resources alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.fhir.systems import NAMESPACE
from referral.scheduling.config import ServiceType
from referral.scheduling.templates import SlotPlan

CAPACITY_EXTENSION = f"{NAMESPACE}/StructureDefinition/slot-capacity"
REFERRAL_RESERVED_EXTENSION = f"{NAMESPACE}/StructureDefinition/slot-referral-reserved"
FEE_CLASS_EXTENSION = f"{NAMESPACE}/StructureDefinition/slot-fee-class"
HOLD_EXPIRES_EXTENSION = f"{NAMESPACE}/StructureDefinition/appointment-hold-expires"
DEPARTMENT_SYSTEM = f"{NAMESPACE}/CodeSystem/department"
SERVICE_TYPE_SYSTEM = f"{NAMESPACE}/CodeSystem/booking-service-type"
BOOKING_IDENTIFIER_SYSTEM = f"{NAMESPACE}/sid/booking-request"  # a client's idempotency key
_SERVICE_DISPLAY = {
    ServiceType.GENERAL: "普通号",
    ServiceType.EXPERT: "专家号",
    ServiceType.SPECIAL_NEEDS: "特需号",
}


def facility_location(facility: str) -> str:
    """The id of the facility's Location in the region registry (``hub seed``)."""
    return f"{facility}-loc"


def schedule_resource(plan: SlotPlan) -> dict[str, Any]:
    """The department's Schedule. Its actor is the hospital's Location (R4 Schedule.actor does
    not take an Organization), the department a specialty code, until departments are
    HealthcareServices of their own."""
    return {
        "resourceType": "Schedule",
        "id": plan.schedule_id,
        "active": True,
        "actor": [{"reference": f"Location/{facility_location(plan.facility)}"}],
        "specialty": [
            {
                "coding": [
                    {
                        "system": DEPARTMENT_SYSTEM,
                        "code": plan.department.code,
                        "display": plan.department.display,
                    }
                ]
            }
        ],
        "comment": f"{plan.department.display}门诊",
    }


def slot_resource(plan: SlotPlan) -> dict[str, Any]:
    return {
        "resourceType": "Slot",
        "id": plan.slot_id,
        "extension": [
            {"url": CAPACITY_EXTENSION, "valuePositiveInt": plan.capacity},
            {"url": REFERRAL_RESERVED_EXTENSION, "valueUnsignedInt": plan.referral_reserved},
            {"url": FEE_CLASS_EXTENSION, "valueCode": plan.fee_class},
        ],
        "schedule": {"reference": f"Schedule/{plan.schedule_id}"},
        "serviceType": [
            {
                "coding": [
                    {
                        "system": SERVICE_TYPE_SYSTEM,
                        "code": plan.service_type.value,
                        "display": _SERVICE_DISPLAY[plan.service_type],
                    }
                ]
            }
        ],
        "specialty": [{"coding": [{"system": DEPARTMENT_SYSTEM, "code": plan.department.code}]}],
        "status": "free",
        "start": plan.start.isoformat(),
        "end": plan.end.isoformat(),
    }


def _extension(resource: dict[str, Any], url: str) -> Any:
    for extension in resource.get("extension") or []:
        if isinstance(extension, dict) and extension.get("url") == url:
            for key, value in extension.items():
                if key.startswith("value"):
                    return value
    return None


def slot_capacity(slot: dict[str, Any]) -> tuple[int, int]:
    """(capacity, referral-reserved places) of a Slot: one place when it does not say."""
    capacity = _extension(slot, CAPACITY_EXTENSION)
    reserved = _extension(slot, REFERRAL_RESERVED_EXTENSION)
    places = capacity if isinstance(capacity, int) and capacity > 0 else 1
    share = reserved if isinstance(reserved, int) and 0 <= reserved <= places else 0
    return places, share


def reference_id(value: Any, resource_type: str) -> str | None:
    """The id of a relative ``Type/id`` reference of that type, else None."""
    reference = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(reference, str):
        return None
    head, _, tail = reference.rpartition("/")
    return tail if head.endswith(resource_type) and tail else None


def slot_of(appointment: dict[str, Any]) -> str | None:
    """The one Slot an Appointment books, or None when it names none."""
    slots = [reference_id(s, "Slot") for s in appointment.get("slot") or []]
    named = [s for s in slots if s]
    return named[0] if len(named) == 1 else None


def slot_count(appointment: dict[str, Any]) -> int:
    return len(appointment.get("slot") or [])


def patient_of(appointment: dict[str, Any]) -> str | None:
    for participant in appointment.get("participant") or []:
        patient = reference_id(
            participant.get("actor") if isinstance(participant, dict) else None, "Patient"
        )
        if patient:
            return patient
    return None


def is_referral(appointment: dict[str, Any]) -> bool:
    return any(reference_id(b, "ServiceRequest") for b in appointment.get("basedOn") or [])


def idempotency_key(appointment: dict[str, Any]) -> str | None:
    """``system|value`` of the Appointment's first identifier: the client's request key."""
    for identifier in appointment.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("value"):
            return f"{identifier.get('system', '')}|{identifier['value']}"[:255]
    return None


def with_hold_expiry(appointment: dict[str, Any], expires: datetime) -> dict[str, Any]:
    others = [
        e for e in appointment.get("extension") or [] if e.get("url") != HOLD_EXPIRES_EXTENSION
    ]
    stamp = {"url": HOLD_EXPIRES_EXTENSION, "valueDateTime": expires.isoformat()}
    return dict(appointment, extension=[*others, stamp])
